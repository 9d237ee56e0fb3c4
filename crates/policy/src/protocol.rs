//! Service protocols as Kuma folds them (spec §4.2): each protocol has a stack, and the common protocol of
//! two is the first element they share; anything unknown makes the whole service `<unknown>`.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Protocol {
    #[serde(rename = "<unknown>")]
    Unknown,
    #[serde(rename = "tcp")]
    Tcp,
    #[serde(rename = "tls")]
    Tls,
    #[serde(rename = "http")]
    Http,
    #[serde(rename = "http2")]
    Http2,
    #[serde(rename = "grpc")]
    Grpc,
    #[serde(rename = "kafka")]
    Kafka,
    #[serde(rename = "mysql")]
    Mysql,
}

impl Protocol {
    /// Kuma's `ParseProtocol`: case-insensitive; anything else is unknown.
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Self::Tcp,
            "tls" => Self::Tls,
            "http" => Self::Http,
            "http2" => Self::Http2,
            "grpc" => Self::Grpc,
            "kafka" => Self::Kafka,
            "mysql" => Self::Mysql,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "<unknown>",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Http => "http",
            Self::Http2 => "http2",
            Self::Grpc => "grpc",
            Self::Kafka => "kafka",
            Self::Mysql => "mysql",
        }
    }

    fn stack(self) -> &'static [Protocol] {
        match self {
            Self::Grpc => &[Self::Grpc, Self::Http2, Self::Tcp],
            Self::Http2 => &[Self::Http2, Self::Tcp],
            Self::Http => &[Self::Http, Self::Tcp],
            Self::Kafka => &[Self::Kafka, Self::Tcp],
            Self::Tls | Self::Tcp => &[Self::Tcp],
            // Kuma has no stack for mysql: it shares nothing with another protocol.
            Self::Mysql | Self::Unknown => &[],
        }
    }

    /// The common protocol of two.
    #[must_use]
    pub fn common(self, other: Protocol) -> Protocol {
        if self == other {
            return self;
        }
        let theirs = other.stack();
        self.stack().iter().copied().find(|p| theirs.contains(p)).unwrap_or(Self::Unknown)
    }

    /// HTTP, HTTP/2 and gRPC: the destinations MeshHTTPRoute may own.
    pub fn is_http_family(self) -> bool {
        matches!(self, Self::Http | Self::Http2 | Self::Grpc)
    }

    /// Protocols a MeshTCPRoute split accepts (spec §4.5): `tls` and `mysql` backends are dropped.
    pub fn accepted_in_tcp_split(self) -> bool {
        !matches!(self, Self::Tls | Self::Mysql)
    }
}

/// Folds the common protocol over a list; empty gives unknown.
pub fn fold_protocols(protocols: impl IntoIterator<Item = Protocol>) -> Protocol {
    let mut iter = protocols.into_iter();
    let Some(first) = iter.next() else {
        return Protocol::Unknown;
    };
    iter.fold(first, Protocol::common)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_protocols_follow_the_stacks() {
        assert_eq!(Protocol::Tcp.common(Protocol::Http), Protocol::Tcp);
        assert_eq!(Protocol::Grpc.common(Protocol::Http2), Protocol::Http2);
        assert_eq!(Protocol::Http.common(Protocol::Http2), Protocol::Tcp);
        assert_eq!(Protocol::Kafka.common(Protocol::Kafka), Protocol::Kafka);
        assert_eq!(Protocol::Tls.common(Protocol::Tcp), Protocol::Tcp);
        assert_eq!(Protocol::Unknown.common(Protocol::Tcp), Protocol::Unknown);
        assert_eq!(fold_protocols([Protocol::Http, Protocol::Http, Protocol::Grpc]), Protocol::Tcp);
        assert_eq!(fold_protocols([]), Protocol::Unknown);
        assert_eq!(Protocol::parse("HTTP"), Protocol::Http);
    }
}
