//! eAPI's JSON-RPC 2.0: `POST /command-api` with `{"jsonrpc": "2.0", "method": "runCmds",
//! "params": {"version": 1, "cmds": [...], "format": "json"|"text"}, "id": ID}`. A reply has one
//! result per command, in order; an error stops at the failing command and carries the results
//! of those before it and the failing one's error texts.

use serde_json::{Value, json};

/// How results come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Each command's model, as JSON.
    Json,
    /// Each command's CLI text, as `{"output": "..."}`.
    Text,
}

/// The request body for `cmds`. `enable` goes first (clients drop its result); a command that
/// prompts is given with its input as `{"cmd": ..., "input": ...}`.
pub fn request(id: &str, cmds: &[Value], format: Format) -> Value {
    let format = match format {
        Format::Json => "json",
        Format::Text => "text",
    };
    json!({"jsonrpc": "2.0", "method": "runCmds", "params": {"version": 1, "cmds": cmds, "format": format}, "id": id})
}

/// Why an eAPI request did not give its results.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EapiError {
    /// A command failed (codes 1000, 1001, 1002, 1004): which one, and what EOS said.
    #[error("command {index} ({command:?}) failed: {message}{}", if errors.is_empty() { String::new() } else { format!(" ({})", errors.join("; ")) })]
    Command {
        /// eAPI's error code.
        code: i64,
        /// The failing command's position, from 0.
        index: usize,
        /// The command as sent.
        command: String,
        /// eAPI's message.
        message: String,
        /// The command's own error texts (`Invalid input (at token 1: 'bogus')`).
        errors: Vec<String>,
    },
    /// The command has no JSON model (1003): ask again with [`Format::Text`].
    #[error("command {command:?} has no JSON model; it must be asked for as text")]
    NoJsonModel {
        /// The command.
        command: String,
    },
    /// The user may not run the command (1005).
    #[error("not authorized to run {command:?}: {message}")]
    Unauthorized {
        /// The command.
        command: String,
        /// eAPI's message.
        message: String,
    },
    /// The request itself was refused (an envelope error: no command ran).
    #[error("eAPI refused the request ({code}): {message}")]
    Request {
        /// The JSON-RPC code (-32600, ...).
        code: i64,
        /// Its message.
        message: String,
    },
    /// The reply is not eAPI's.
    #[error("the reply is not an eAPI reply: {0}")]
    Malformed(String),
}

/// The results of `cmds` from `reply` (one per command, in order), or why there are none.
pub fn results(reply: &Value, cmds: &[Value]) -> Result<Vec<Value>, EapiError> {
    if let Some(result) = reply.get("result") {
        let list = result.as_array().ok_or_else(|| EapiError::Malformed("result is not a list".into()))?;
        if list.len() != cmds.len() {
            return Err(EapiError::Malformed(format!("{} results for {} commands", list.len(), cmds.len())));
        }
        return Ok(list.clone());
    }
    let error = reply.get("error").ok_or_else(|| EapiError::Malformed("neither result nor error".into()))?;
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(data) = error.get("data").and_then(Value::as_array) else {
        return Err(EapiError::Request { code, message });
    };
    // The commands that ran, then the failing one: its entry carries `errors`.
    let index = data.iter().position(|d| d.get("errors").is_some()).unwrap_or(data.len().saturating_sub(1));
    let command = cmds.get(index).map(command_text).unwrap_or_default();
    let errors: Vec<String> = data
        .get(index)
        .and_then(|d| d.get("errors"))
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    Err(match code {
        1003 => EapiError::NoJsonModel { command },
        1005 => EapiError::Unauthorized { command, message },
        _ => EapiError::Command { code, index, command, message, errors },
    })
}

/// A command as sent: its text, or the `cmd` of one with input (the input, a secret, is left
/// out).
fn command_text(cmd: &Value) -> String {
    match cmd {
        Value::String(text) => text.clone(),
        other => other.get("cmd").and_then(Value::as_str).unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(list: &[&str]) -> Vec<Value> {
        list.iter().map(|c| json!(c)).collect()
    }

    #[test]
    fn a_request_is_json_rpc_run_cmds_with_the_format() {
        let sent = request("h-1", &[json!({"cmd": "enable", "input": "s3cret"}), json!("show version")], Format::Text);
        assert_eq!(sent["jsonrpc"], "2.0");
        assert_eq!(sent["method"], "runCmds");
        assert_eq!(sent["params"]["version"], 1);
        assert_eq!(sent["params"]["format"], "text");
        assert_eq!(sent["params"]["cmds"][1], "show version");
        assert_eq!(sent["id"], "h-1");
    }

    #[test]
    fn results_come_one_per_command_in_order() {
        let reply = json!({"jsonrpc": "2.0", "id": "h-1", "result": [{}, {"hostname": "leaf7", "fqdn": "leaf7.dc1"}]});
        let got = results(&reply, &cmds(&["enable", "show hostname"])).unwrap();
        assert_eq!(got[1]["hostname"], "leaf7");
        let short = json!({"jsonrpc": "2.0", "id": "h-1", "result": [{}]});
        assert!(matches!(results(&short, &cmds(&["enable", "show hostname"])), Err(EapiError::Malformed(_))));
    }

    #[test]
    fn a_failing_command_is_named_with_eos_s_words() {
        // The shape of a real 1002 reply: the results of the commands that ran, then the failing
        // command's errors.
        let reply = json!({"jsonrpc": "2.0", "id": "h-2", "error": {
            "code": 1002,
            "message": "CLI command 3 of 3 'show nonsense' failed: invalid command",
            "data": [{}, {"hostname": "leaf7", "fqdn": "leaf7"}, {"errors": ["Invalid input (at token 1: 'nonsense')"]}]
        }});
        let error = results(&reply, &cmds(&["enable", "show hostname", "show nonsense"])).unwrap_err();
        assert_eq!(
            error,
            EapiError::Command {
                code: 1002,
                index: 2,
                command: "show nonsense".into(),
                message: "CLI command 3 of 3 'show nonsense' failed: invalid command".into(),
                errors: vec!["Invalid input (at token 1: 'nonsense')".into()],
            }
        );
        assert!(error.to_string().contains("command 2 (\"show nonsense\") failed"), "{error}");
    }

    #[test]
    fn a_command_without_a_json_model_asks_for_text_and_envelope_errors_are_the_request_s() {
        let reply = json!({"jsonrpc": "2.0", "id": "h-3", "error": {
            "code": 1003,
            "message": "CLI command 2 of 2 'verify /md5 flash:EOS.swi' failed: no JSON model",
            "data": [{}, {"errors": ["Command cannot be run in JSON format"]}]
        }});
        let error = results(&reply, &cmds(&["enable", "verify /md5 flash:EOS.swi"])).unwrap_err();
        assert_eq!(error, EapiError::NoJsonModel { command: "verify /md5 flash:EOS.swi".into() });
        let envelope = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "Expected field 'jsonrpc' not specified"}});
        assert!(matches!(results(&envelope, &cmds(&["show version"])), Err(EapiError::Request { code: -32600, .. })));
        // A command given with its input is named without the input.
        let secret = json!({"jsonrpc": "2.0", "id": "h-4", "error": {"code": 1005, "message": "not authorized", "data": [{"errors": ["Authorization denied"]}]}});
        let error = results(&secret, &[json!({"cmd": "enable", "input": "s3cret"})]).unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert!(matches!(error, EapiError::Unauthorized { .. }));
    }
}
