//! A small XML element tree for NETCONF messages, with namespaces stripped (as ncclient's Junos
//! handler strips them before PyEZ sees a reply), bounded in depth and size.

use std::fmt::Write;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// Deepest nesting accepted; real replies are far shallower.
pub const DEPTH_MAX: usize = 64;

/// One element: local name, attributes (local names), text and children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name, without namespace prefix.
    pub name: String,
    /// Attributes as (local name, value).
    pub attributes: Vec<(String, String)>,
    /// Concatenated direct text, untrimmed.
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Element>,
}

/// Why a message is not the XML we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct XmlError(pub String);

impl Element {
    /// A new element with a name.
    pub fn new(name: &str) -> Element {
        Element { name: name.to_string(), ..Element::default() }
    }

    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first descendant (depth first) with this local name, self included.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// Every descendant with this local name.
    pub fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        if self.name == name {
            out.push(self);
        }
        for child in &self.children {
            child.find_all(name, out);
        }
    }

    /// Trimmed text of the first descendant with this name (Junos pads values with newlines).
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.find(name).map(|e| e.text.trim())
    }

    /// An attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses one XML document (comments and declarations skipped).
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| XmlError(format!("{e} at byte {}", reader.buffer_position())))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                return Err(XmlError(format!("second root element <{}>", start.local_name().as_ref())));
            }
            Event::Start(start) => {
                if stack.len() >= DEPTH_MAX {
                    return Err(XmlError(format!("nesting deeper than {DEPTH_MAX}")));
                }
                stack.push(element(&start)?);
            }
            Event::Empty(start) => {
                let element = element(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(|| XmlError("closing tag without an opening one".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(text) => append(&mut stack, &text.xml10_content())?,
            Event::CData(data) => append(&mut stack, &data.into_inner())?,
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().map_err(|e| XmlError(e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => predefined(&reference.xml10_content())?.to_string(),
                };
                append(&mut stack, &resolved)?;
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError(format!("<{}> is never closed", stack.last().map_or("", |e| e.name.as_str()))));
    }
    root.ok_or_else(|| XmlError("no element".into()))
}

fn element(start: &quick_xml::events::BytesStart) -> Result<Element, XmlError> {
    let name = start.local_name().as_ref().to_string();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| XmlError(e.to_string()))?;
        let raw = attribute.key.as_ref().to_string();
        if raw == "xmlns" || raw.starts_with("xmlns:") {
            continue; // Namespace declarations: namespaces are stripped.
        }
        let key = attribute.key.local_name().as_ref().to_string();
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| XmlError(e.to_string()))?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element { name, attributes, ..Element::default() })
}

fn append(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError(format!("text outside the root element: {:?}", text.trim()))),
    }
}

fn predefined(name: &str) -> Result<&'static str, XmlError> {
    Ok(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "quot" => "\"",
        "apos" => "'",
        other => return Err(XmlError(format!("unknown entity &{other};"))),
    })
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// Writes `<name>text</name>` with the text escaped.
pub fn leaf(out: &mut String, name: &str, text: impl std::fmt::Display) {
    let _ = write!(out, "<{name}>{}</{name}>", escape(&text.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_stripped_and_entities_resolved() {
        let doc = parse(
            r#"<?xml version="1.0"?><!-- comment --><nc:rpc-reply xmlns:nc="urn:x" nc:message-id="7"><a>x &lt; y &#65;</a><b/></nc:rpc-reply>"#,
        )
        .unwrap();
        assert_eq!(doc.name, "rpc-reply");
        assert_eq!(doc.attribute("message-id"), Some("7"));
        assert_eq!(doc.text_of("a"), Some("x < y A"));
        assert!(doc.child("b").is_some());
    }

    #[test]
    fn malformed_documents_are_errors_not_panics() {
        for bad in ["<a>", "<a></b>", "</a>", "<a/><b/>", "text", "<a>&bogus;</a>", &"<x>".repeat(100)] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
