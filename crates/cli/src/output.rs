//! Printing structured answers as YAML or JSON.

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Yaml,
    Json,
}

/// Renders a JSON value in the chosen format, ending with a newline.
pub fn render(value: &serde_json::Value, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => format!("{}\n", serde_json::to_string_pretty(value).unwrap_or_default()),
        OutputFormat::Yaml => model::format::to_yaml_documents(std::slice::from_ref(value)),
    }
}
