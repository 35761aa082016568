//! A prompt template: minijinja source, typed variable declarations, and how the rendered
//! message joins the client's messages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One version's template, as stored by the control plane and shipped in snapshots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptTemplate {
    /// minijinja source of the message content. Printing an undefined value is an error;
    /// `{% if optional %}` tests are allowed.
    pub body: String,
    /// Declared variables; a request may send only these, with these types.
    #[serde(default)]
    pub variables: BTreeMap<String, VariableSpec>,
    /// Role of the rendered message.
    #[serde(default)]
    pub role: PromptRole,
    /// Whether the rendered message prefixes or replaces the client's messages.
    #[serde(default)]
    pub mode: PromptMode,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptRole {
    #[default]
    System,
    Developer,
    User,
}

impl PromptRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PromptRole::System => "system",
            PromptRole::Developer => "developer",
            PromptRole::User => "user",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptMode {
    /// The rendered message goes before the client's messages.
    #[default]
    Prefix,
    /// The rendered message is the whole conversation; the client's messages are dropped.
    Replace,
}

/// A declared variable: `"string"` for short, or `{type, required, default}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VariableSpec {
    Short(VariableType),
    Full {
        #[serde(rename = "type", default)]
        kind: VariableType,
        #[serde(default = "yes")]
        required: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<Value>,
    },
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableType {
    #[default]
    #[serde(alias = "str")]
    String,
    #[serde(alias = "float")]
    Number,
    #[serde(alias = "int")]
    Integer,
    #[serde(alias = "bool")]
    Boolean,
    #[serde(alias = "list")]
    Array,
    #[serde(alias = "dict")]
    Object,
    Any,
}

impl VariableType {
    pub fn name(self) -> &'static str {
        match self {
            VariableType::String => "a string",
            VariableType::Number => "a number",
            VariableType::Integer => "an integer",
            VariableType::Boolean => "a boolean",
            VariableType::Array => "an array",
            VariableType::Object => "an object",
            VariableType::Any => "any JSON value",
        }
    }

    pub fn accepts(self, value: &Value) -> bool {
        match self {
            VariableType::String => value.is_string(),
            VariableType::Number => value.is_number(),
            VariableType::Integer => value.is_i64() || value.is_u64(),
            VariableType::Boolean => value.is_boolean(),
            VariableType::Array => value.is_array(),
            VariableType::Object => value.is_object(),
            VariableType::Any => true,
        }
    }
}

impl VariableSpec {
    pub fn kind(&self) -> VariableType {
        match self {
            VariableSpec::Short(kind) | VariableSpec::Full { kind, .. } => *kind,
        }
    }

    fn required(&self) -> bool {
        match self {
            VariableSpec::Short(_) => true,
            VariableSpec::Full {
                required, default, ..
            } => *required && default.is_none(),
        }
    }

    fn default(&self) -> Option<&Value> {
        match self {
            VariableSpec::Short(_) => None,
            VariableSpec::Full { default, .. } => default.as_ref(),
        }
    }
}

/// Why a template could not be compiled or rendered; `variable` names the culprit if any.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct RenderError {
    pub message: String,
    pub variable: Option<String>,
}

impl RenderError {
    fn of(variable: &str, message: String) -> Self {
        RenderError {
            message,
            variable: Some(variable.to_owned()),
        }
    }
}

/// One rendered message.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedMessage {
    pub role: PromptRole,
    pub content: String,
}

/// A template compiled once (per snapshot) and rendered per request.
pub struct CompiledPrompt {
    env: minijinja::Environment<'static>,
    template: PromptTemplate,
    /// The variables the body refers to, sorted.
    used: Vec<String>,
}

impl std::fmt::Debug for CompiledPrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPrompt")
            .field("template", &self.template)
            .finish()
    }
}

const NAME: &str = "prompt";

impl PromptTemplate {
    /// Compiles the body and checks that every variable it uses is declared (or a default
    /// given), and that defaults have their declared types.
    pub fn compile(&self) -> Result<CompiledPrompt, RenderError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
        env.add_template_owned(NAME, self.body.clone())
            .map_err(|e| RenderError {
                message: format!("template does not compile: {e}"),
                variable: None,
            })?;
        for (name, spec) in &self.variables {
            if let Some(default) = spec.default() {
                if !spec.kind().accepts(default) {
                    return Err(RenderError::of(
                        name,
                        format!(
                            "the default of variable `{name}` must be {}",
                            spec.kind().name()
                        ),
                    ));
                }
            }
        }
        let template = env.get_template(NAME).map_err(|e| RenderError {
            message: e.to_string(),
            variable: None,
        })?;
        let mut used: Vec<String> = template.undeclared_variables(false).into_iter().collect();
        used.sort();
        if let Some(name) = used
            .iter()
            .find(|name| !self.variables.contains_key(name.as_str()))
        {
            return Err(RenderError::of(
                name,
                format!("the template uses variable `{name}`, which is not declared"),
            ));
        }
        Ok(CompiledPrompt {
            env,
            template: self.clone(),
            used,
        })
    }
}

impl CompiledPrompt {
    pub fn template(&self) -> &PromptTemplate {
        &self.template
    }

    /// Checks `variables` against the declarations and renders the message.
    pub fn render(&self, variables: &Map<String, Value>) -> Result<RenderedMessage, RenderError> {
        let declared = &self.template.variables;
        if let Some(name) = variables.keys().find(|name| !declared.contains_key(*name)) {
            return Err(RenderError::of(
                name,
                format!("variable `{name}` is not declared by the prompt"),
            ));
        }
        let mut context = Map::with_capacity(declared.len());
        for (name, spec) in declared {
            let value = match variables.get(name).or(spec.default()) {
                Some(value) => value,
                None if spec.required() => {
                    return Err(RenderError::of(
                        name,
                        format!("missing required variable `{name}`"),
                    ))
                }
                None => continue,
            };
            if !spec.kind().accepts(value) {
                return Err(RenderError::of(
                    name,
                    format!("variable `{name}` must be {}", spec.kind().name()),
                ));
            }
            context.insert(name.clone(), value.clone());
        }
        let template = self.env.get_template(NAME).map_err(|e| RenderError {
            message: e.to_string(),
            variable: None,
        })?;
        let content = template.render(&context).map_err(|e| {
            // An optional variable left out but printed: name it.
            if e.kind() == minijinja::ErrorKind::UndefinedError {
                if let Some(name) = self.used.iter().find(|n| !context.contains_key(*n)) {
                    return RenderError::of(
                        name,
                        format!("variable `{name}` is used by the prompt but was not sent"),
                    );
                }
            }
            RenderError {
                message: format!("prompt template: {e}"),
                variable: None,
            }
        })?;
        Ok(RenderedMessage {
            role: self.template.role,
            content,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template(v: Value) -> PromptTemplate {
        serde_json::from_value(v).unwrap()
    }

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn renders_declared_variables() {
        let t = template(json!({
            "body": "Answer {{ question }} in {{ lang }}{% if n %} ({{ n }}){% endif %}.",
            "variables": {"question": "string", "lang": {"type": "string", "default": "English"},
                          "n": {"type": "integer", "required": false}}
        }))
        .compile()
        .unwrap();
        let out = t.render(&vars(json!({"question": "why"}))).unwrap();
        assert_eq!(out.content, "Answer why in English.");
        assert_eq!(out.role, PromptRole::System);
        let out = t
            .render(&vars(json!({"question": "why", "lang": "French", "n": 3})))
            .unwrap();
        assert_eq!(out.content, "Answer why in French (3).");
    }

    #[test]
    fn missing_wrong_type_and_unknown_variables_name_the_variable() {
        let t = template(json!({"body": "{{ q }}", "variables": {"q": "string"}}))
            .compile()
            .unwrap();
        let missing = t.render(&Map::new()).unwrap_err();
        assert_eq!(missing.variable.as_deref(), Some("q"));
        let wrong = t.render(&vars(json!({"q": 5}))).unwrap_err();
        assert_eq!(wrong.variable.as_deref(), Some("q"));
        assert!(wrong.message.contains("must be a string"), "{wrong}");
        let unknown = t.render(&vars(json!({"q": "a", "qq": "b"}))).unwrap_err();
        assert_eq!(unknown.variable.as_deref(), Some("qq"));
    }

    #[test]
    fn compile_rejects_undeclared_use_bad_syntax_and_bad_defaults() {
        let undeclared = template(json!({"body": "{{ a }} {{ b }}", "variables": {"a": "string"}}))
            .compile()
            .unwrap_err();
        assert_eq!(undeclared.variable.as_deref(), Some("b"));
        assert!(template(json!({"body": "{{ a "})).compile().is_err());
        let bad_default = template(json!({"body": "{{ a }}",
            "variables": {"a": {"type": "integer", "default": "x"}}}))
        .compile()
        .unwrap_err();
        assert_eq!(bad_default.variable.as_deref(), Some("a"));
    }

    #[test]
    fn optional_variable_left_out_is_an_error_if_the_template_uses_it() {
        // Undefined is an error, never an empty string.
        let t = template(json!({"body": "x{{ a }}y",
            "variables": {"a": {"type": "string", "required": false}}}))
        .compile()
        .unwrap();
        let err = t.render(&Map::new()).unwrap_err();
        assert_eq!(err.variable.as_deref(), Some("a"), "{err}");
    }

    #[test]
    fn role_and_mode_parse() {
        let t = template(json!({"body": "hi", "role": "user", "mode": "replace",
                                "variables": {"q": "str", "n": {"type": "int"}}}));
        assert_eq!(t.variables["q"].kind(), VariableType::String);
        assert_eq!(t.variables["n"].kind(), VariableType::Integer);
        assert_eq!(t.role, PromptRole::User);
        assert_eq!(t.mode, PromptMode::Replace);
        assert!(
            serde_json::from_value::<PromptTemplate>(json!({"body": "x", "extra": 1})).is_err()
        );
    }
}
