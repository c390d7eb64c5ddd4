//! The schema: the hierarchies the lab models, each statement's kind (container, leaf, flag,
//! named entry, list, macro) and the values a leaf takes. A statement the schema does not know is
//! not refused: the tree keeps it in the shape it came in (see [`super::Shape`]); the schema
//! only decides what it knows — a value's type, a keyword's place, an XML element's name.

/// What a statement is.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    /// `disable;`
    Flag,
    /// `host-name VALUE;`: one value, replaced when set again.
    Leaf(Value),
    /// `system { ... }`
    Container(&'static [Spec]),
    /// `group NAME { ... }`: entries named after the keyword (XML `<group><name>`).
    Named(&'static [Spec]),
    /// `interfaces { NAME { ... } }`: entries named directly (XML `<interfaces><interface>`); with
    /// no element, each entry is an element of the keyword's name (`name-server { A; }` is
    /// `<name-server><name>A</name></name-server>`).
    Entries(&'static str, &'static [Spec]),
    /// `apply-macro NAME { KEY [VALUE]; }`
    Macro,
    /// A container that also takes one bare value (`esi 00:11:...; esi { all-active; }`).
    ValueContainer(Value, &'static [Spec]),
    /// `members [ a b ];`: several values, each set adds one.
    LeafList(Value),
    /// `route-filter 10.0.0.0/8 orlonger;`: a statement of several words.
    Words,
    /// `groups NAME { ... }`: entries that hold configuration of any hierarchy.
    Groups,
}

/// The values a leaf accepts.
#[derive(Clone, Copy, Debug)]
pub(super) enum Value {
    /// Any word (quoted when it has spaces).
    Any,
    /// A whole number in a range.
    Number(u64, u64),
    /// One of these words.
    Choice(&'static [&'static str]),
}

/// One statement of the schema.
#[derive(Clone, Copy, Debug)]
pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    /// The XML element when it is not the keyword (XML names cannot start with a digit), and the
    /// element that holds a leaf's value inside it.
    pub(super) xml: Option<(&'static str, &'static str)>,
}

pub(super) const fn spec(name: &'static str, kind: Kind) -> Spec {
    Spec { name, kind, xml: None }
}

/// `ether-options 802.3ad ae0` is `<ieee-802.3ad><bundle>ae0</bundle></ieee-802.3ad>` in XML.
pub(super) const IEEE_802_3AD: Spec =
    Spec { name: "802.3ad", kind: Kind::Leaf(Value::Any), xml: Some(("ieee-802.3ad", "bundle")) };

pub(super) const FLAG: Kind = Kind::Flag;
pub(super) const ANY: Kind = Kind::Leaf(Value::Any);

pub(super) const MACRO: Spec = spec("apply-macro", Kind::Macro);

pub(super) const FAMILY_INET: &[Spec] = &[spec("address", Kind::Named(&[spec("primary", FLAG)]))];
pub(super) const FAMILY: &[Spec] = &[
    spec("inet", Kind::Container(FAMILY_INET)),
    spec("inet6", Kind::Container(FAMILY_INET)),
    spec(
        "ethernet-switching",
        Kind::Container(&[
            spec("interface-mode", Kind::Leaf(Value::Choice(&["access", "trunk"]))),
            spec("vlan", Kind::Container(&[spec("members", Kind::LeafList(Value::Any))])),
        ]),
    ),
];
pub(super) const UNIT: &[Spec] = &[spec("description", ANY), spec("family", Kind::Container(FAMILY))];
pub(super) const INTERFACE: &[Spec] = &[
    spec("description", ANY),
    spec("disable", FLAG),
    spec("mtu", Kind::Leaf(Value::Number(256, 16_000))),
    spec("ether-options", Kind::Container(&[IEEE_802_3AD, spec("speed", ANY), spec("auto-negotiation", FLAG)])),
    spec("esi", Kind::ValueContainer(Value::Any, &[spec("all-active", FLAG), spec("single-active", FLAG)])),
    spec(
        "aggregated-ether-options",
        Kind::Container(&[
            spec("minimum-links", Kind::Leaf(Value::Number(1, 64))),
            spec(
                "lacp",
                Kind::Container(&[
                    spec("active", FLAG),
                    spec("passive", FLAG),
                    spec("periodic", Kind::Leaf(Value::Choice(&["fast", "slow"]))),
                    spec("system-id", ANY),
                ]),
            ),
        ]),
    ),
    spec("unit", Kind::Named(UNIT)),
];

pub(super) const NEIGHBOR: &[Spec] =
    &[spec("description", ANY), spec("peer-as", Kind::Leaf(Value::Number(1, 4_294_967_295))), spec("shutdown", FLAG)];
pub(super) const GROUP: &[Spec] = &[
    spec("type", Kind::Leaf(Value::Choice(&["internal", "external"]))),
    spec("description", ANY),
    spec("local-address", ANY),
    spec("import", Kind::LeafList(Value::Any)),
    spec("family", Kind::Container(&[spec("evpn", Kind::Container(&[spec("signaling", FLAG)]))])),
    spec("authentication-key", ANY),
    spec("export", Kind::LeafList(Value::Any)),
    spec("cluster", ANY),
    spec("peer-as", Kind::Leaf(Value::Number(1, 4_294_967_295))),
    spec("local-as", Kind::Leaf(Value::Number(1, 4_294_967_295))),
    spec("multipath", Kind::Container(&[spec("multiple-as", FLAG)])),
    spec("bfd-liveness-detection", Kind::Container(&[spec("minimum-interval", Kind::Leaf(Value::Number(1, 255_000)))])),
    spec("shutdown", FLAG),
    spec("neighbor", Kind::Named(NEIGHBOR)),
];
pub(super) const GRACEFUL_SHUTDOWN: &[Spec] =
    &[spec("sender", Kind::Container(&[spec("local-preference", Kind::Leaf(Value::Number(0, 4_294_967_295)))]))];
pub(super) const PROTOCOLS: &[Spec] = &[
    spec(
        "bgp",
        Kind::Container(&[
            spec("graceful-shutdown", Kind::Container(GRACEFUL_SHUTDOWN)),
            spec("group", Kind::Named(GROUP)),
        ]),
    ),
    spec(
        "evpn",
        Kind::Container(&[
            spec("encapsulation", Kind::Leaf(Value::Choice(&["vxlan", "mpls"]))),
            spec("extended-vni-list", Kind::LeafList(Value::Any)),
        ]),
    ),
    spec(
        "lldp",
        Kind::Container(&[
            spec("disable", FLAG),
            spec("port-id-subtype", Kind::Leaf(Value::Choice(&["interface-name", "locally-assigned"]))),
            spec("interface", Kind::Named(&[spec("disable", FLAG)])),
        ]),
    ),
];
pub(super) const TERM: &[Spec] = &[
    spec(
        "from",
        Kind::Container(&[
            spec("protocol", Kind::LeafList(Value::Any)),
            spec("route-filter", Kind::Words),
            spec("community", Kind::LeafList(Value::Any)),
        ]),
    ),
    spec(
        "then",
        Kind::Container(&[
            spec("accept", FLAG),
            spec("reject", FLAG),
            spec("local-preference", Kind::Leaf(Value::Number(0, 4_294_967_295))),
            spec("as-path-prepend", ANY),
            spec("community", Kind::Container(&[spec("add", ANY)])),
            spec("next", Kind::Leaf(Value::Choice(&["policy", "term"]))),
        ]),
    ),
];
pub(super) const LOGIN_USER: &[Spec] = &[
    spec("uid", Kind::Leaf(Value::Number(100, 64_000))),
    spec("class", ANY),
    spec(
        "authentication",
        Kind::Container(&[spec("encrypted-password", ANY), spec("ssh-ed25519", ANY), spec("ssh-rsa", ANY)]),
    ),
];
pub(super) const SCHEMA: &[Spec] = &[
    spec("groups", Kind::Groups),
    MACRO,
    spec(
        "system",
        Kind::Container(&[
            spec("host-name", ANY),
            spec("root-authentication", Kind::Container(&[spec("encrypted-password", ANY)])),
            spec(
                "login",
                Kind::Container(&[
                    spec("class", Kind::Named(&[spec("permissions", Kind::LeafList(Value::Any))])),
                    spec("user", Kind::Named(LOGIN_USER)),
                ]),
            ),
            spec(
                "services",
                Kind::Container(&[
                    spec(
                        "ssh",
                        Kind::Container(&[spec(
                            "root-login",
                            Kind::Leaf(Value::Choice(&["allow", "deny", "deny-password"])),
                        )]),
                    ),
                    spec("netconf", Kind::Container(&[spec("ssh", Kind::Container(&[])), spec("rfc-compliant", FLAG)])),
                ]),
            ),
            spec("domain-name", ANY),
            spec("name-server", Kind::Entries("", &[])),
            spec("ntp", Kind::Container(&[spec("server", Kind::Named(&[]))])),
        ]),
    ),
    spec(
        "chassis",
        Kind::Container(&[
            spec("redundancy", Kind::Container(&[spec("graceful-switchover", FLAG)])),
            spec(
                "aggregated-devices",
                Kind::Container(&[spec(
                    "ethernet",
                    Kind::Container(&[spec("device-count", Kind::Leaf(Value::Number(1, 1024)))]),
                )]),
            ),
        ]),
    ),
    spec("interfaces", Kind::Entries("interface", INTERFACE)),
    spec(
        "snmp",
        Kind::Container(&[
            spec("name", ANY),
            spec("description", ANY),
            spec("location", ANY),
            spec("contact", ANY),
            spec(
                "community",
                Kind::Named(&[spec("authorization", Kind::Leaf(Value::Choice(&["read-only", "read-write"])))]),
            ),
            spec("trap-group", Kind::Named(&[])),
        ]),
    ),
    spec(
        "routing-options",
        Kind::Container(&[
            spec("nonstop-routing", FLAG),
            spec("router-id", ANY),
            spec("autonomous-system", Kind::Leaf(Value::Number(1, 4_294_967_295))),
        ]),
    ),
    spec("protocols", Kind::Container(PROTOCOLS)),
    spec(
        "policy-options",
        Kind::Container(&[
            spec("policy-statement", Kind::Named(&[spec("term", Kind::Named(TERM))])),
            spec("community", Kind::Named(&[spec("members", Kind::LeafList(Value::Any))])),
        ]),
    ),
    spec("routing-instances", Kind::Entries("instance", &[])),
    spec(
        "switch-options",
        Kind::Container(&[
            spec("vtep-source-interface", ANY),
            spec("route-distinguisher", ANY),
            spec("vrf-target", Kind::ValueContainer(Value::Any, &[spec("auto", FLAG)])),
        ]),
    ),
    spec(
        "vlans",
        Kind::Entries("vlan", &[spec("description", ANY), spec("vlan-id", Kind::Leaf(Value::Number(1, 4094)))]),
    ),
];

/// Keywords that, wherever the schema does not reach, name an entry: `file messages { ... }`,
/// `community public { ... }`. Used only to read a `set` line the schema does not know (text,
/// XML and JSON say the shape themselves): a wrong guess changes how XML shows the statement,
/// never what the `set` lines say.
pub(super) const LIST_WORDS: &[&str] = &[
    "address",
    "area",
    "class",
    "client",
    "community",
    "file",
    "filter",
    "forwarding-class",
    "group",
    "host",
    "interface",
    "neighbor",
    "policer",
    "policy-statement",
    "prefix-list",
    "profile",
    "route",
    "routing-instance",
    "scheduler",
    "server",
    "storm-control-profiles",
    "term",
    "trap-group",
    "unit",
    "user",
    "vlan",
];

/// Keywords that hold several values wherever they appear: `apply-groups [ a b ];`.
pub(super) const LEAF_LIST_WORDS: &[&str] = &["apply-groups", "apply-groups-except", "members", "next-hop"];

/// Keywords whose value is a secret: stored concealed (`$9$...`), shown with `## SECRET-DATA`.
pub(super) const SECRET_WORDS: &[&str] = &[
    "authentication-key",
    "encrypted-password",
    "secret",
    "pre-shared-key",
    "authentication-password",
    "privacy-password",
    "privacy-key",
    "simple-password",
    "ascii-text",
    "hexadecimal",
];
