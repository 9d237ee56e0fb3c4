//! `meshroute generate`, as kumactl's: dataplane and user tokens (through the API, which only admins may
//! call, or offline with a signing key file), and new signing keys for rotation.
//!
//! ```text
//!  generate dataplane-token --mesh M --name N [--tag k=v,v2] --valid-for 24h ─► POST /tokens/dataplane
//!  generate user-token --name U --group G --valid-for 24h                   ─► POST /tokens/user
//!      ... --signing-key-path F --kid K                                     ─► signed here, no API call
//!  generate signing-key                                                     ─► base64 PEM for a Secret
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine;
use server::tokens::TokenError;
use server::tokens::dataplane::DataplaneIdentity;
use server::tokens::jwt::parse_valid_for;
use server::tokens::keys::KeySet;
use server::tokens::user::User;

use crate::ApiTarget;

#[derive(clap::Subcommand)]
pub enum GenerateCommand {
    /// A token a proxy shows to the dataplane server (`meshroute proxy --dataplane-token-file`).
    DataplaneToken {
        #[command(flatten)]
        api: ApiTarget,
        /// The Dataplane's name (empty: any name).
        #[arg(long, default_value = "")]
        name: String,
        #[arg(short = 'm', long, default_value = "default")]
        mesh: String,
        /// Tags the Dataplane must have, k=v1,v2 (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long, default_value = "dataplane")]
        proxy_type: String,
        /// The kuma.io/workload label the Dataplane must carry.
        #[arg(long, default_value = "")]
        workload: String,
        /// How long the token is valid: 24h, 30m, 1h30m.
        #[arg(long, required = true)]
        valid_for: String,
        #[command(flatten)]
        offline: OfflineKey,
    },
    /// A token for an API user: --group mesh-system:admin may do everything, any other group reads only.
    UserToken {
        #[command(flatten)]
        api: ApiTarget,
        #[arg(long, required = true)]
        name: String,
        /// Groups of the user (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long, required = true)]
        valid_for: String,
        #[command(flatten)]
        offline: OfflineKey,
    },
    /// A new RSA signing key, base64-encoded PEM: the data of a Secret
    /// `dataplane-token-signing-key-<mesh>-<serial>` (or a GlobalSecret `user-token-signing-key-<serial>`).
    SigningKey,
}

/// Signing keys as (secret name, PEM).
type SigningKeys = Vec<(String, Vec<u8>)>;

/// Signing offline, without the control plane.
#[derive(clap::Args)]
pub struct OfflineKey {
    /// The signing key (PEM, or the base64 of `generate signing-key`): sign here, call no API.
    #[arg(long, requires = "kid")]
    signing_key_path: Option<PathBuf>,
    /// The serial of that key (the number its Secret's name ends with).
    #[arg(long)]
    kid: Option<u32>,
}

impl OfflineKey {
    /// The key as (secret name, PEM) for `set`, when signing offline.
    fn read(&self, set: &KeySet) -> Result<Option<SigningKeys>, String> {
        let (Some(path), Some(kid)) = (&self.signing_key_path, self.kid) else { return Ok(None) };
        let bytes = std::fs::read(path).map_err(|e| format!("--signing-key-path {}: {e}", path.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        let pem = if text.contains("-----BEGIN") {
            bytes
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| format!("--signing-key-path {}: neither PEM nor base64", path.display()))?
        };
        Ok(Some(vec![(set.key_name(kid), pem)]))
    }
}

fn by_name(keys: &SigningKeys) -> impl Iterator<Item = (&str, Vec<u8>)> {
    keys.iter().map(|(name, bytes)| (name.as_str(), bytes.clone()))
}

/// `k=v1,v2` tags into the token's tag map.
fn parse_tags(tags: &[String]) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut map = BTreeMap::new();
    for tag in tags {
        let (k, v) = tag.split_once('=').ok_or_else(|| format!("--tag {tag:?}: use key=value[,value]"))?;
        map.insert(k.to_owned(), v.split(',').map(str::to_owned).collect());
    }
    Ok(map)
}

pub fn run(command: GenerateCommand) -> ExitCode {
    let result = match command {
        GenerateCommand::SigningKey => {
            server::tokens::keys::new_signing_key().map(|pem| base64::engine::general_purpose::STANDARD.encode(pem))
        }
        GenerateCommand::DataplaneToken { api, name, mesh, tags, proxy_type, workload, valid_for, offline } => {
            parse_tags(&tags).and_then(|tags| {
                let identity = DataplaneIdentity { name, mesh, tags, proxy_type, workload };
                let set = KeySet::Dataplane { mesh: identity.mesh.clone() };
                issue(&api, "/tokens/dataplane", &identity, &valid_for, &offline, &set, |seconds, keys| {
                    server::tokens::dataplane::issue(&identity, seconds, by_name(keys))
                })
            })
        }
        GenerateCommand::UserToken { api, name, groups, valid_for, offline } => {
            let user = User { name, groups };
            issue(&api, "/tokens/user", &user, &valid_for, &offline, &KeySet::User, |seconds, keys| {
                server::tokens::user::issue(&user, seconds, by_name(keys))
            })
        }
    };
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("meshroute: {e}");
            ExitCode::from(1)
        }
    }
}

/// A token for `request`: signed here with the offline key when one is given, else by the API.
fn issue<R: serde::Serialize>(
    api: &ApiTarget,
    path: &str,
    request: &R,
    valid_for: &str,
    offline: &OfflineKey,
    set: &KeySet,
    sign: impl FnOnce(i64, &SigningKeys) -> Result<String, TokenError>,
) -> Result<String, String> {
    if let Some(keys) = offline.read(set)? {
        let seconds = parse_valid_for(valid_for).map_err(|e| format!("--valid-for: {e}"))?;
        return sign(seconds, &keys).map_err(|e| e.to_string());
    }
    let mut body = serde_json::to_value(request).map_err(|e| e.to_string())?;
    body["validFor"] = valid_for.into();
    issue_online(api, path, &body)
}

/// `POST path` on the API; the token is the body of a 200.
fn issue_online(api: &ApiTarget, path: &str, body: &serde_json::Value) -> Result<String, String> {
    let response = api.target().call("POST", path, &body.to_string())?;
    if response.status == 200 {
        return Ok(response.body.trim().to_owned());
    }
    Err(crate::api_cmds::describe_error("POST", path, &response))
}
