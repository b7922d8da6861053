//! Typed access to the fields of a parsed JSON file, reporting every missing or mistyped field
//! as a diagnostic at its line and column (`missing-key`, `json-type`).

use crate::diag::{Diagnostic, Diagnostics, LineCol};

use super::formula::PyNum;
use super::json::{Json, JsonFile, JsonValue, Member};
use super::model::Origin;

/// A JSON file being read, and where its problems go.
pub(crate) struct Fields<'a> {
    pub file: &'a JsonFile,
    pub diags: &'a mut Diagnostics,
}

impl<'a> Fields<'a> {
    pub fn new(file: &'a JsonFile, diags: &'a mut Diagnostics) -> Self {
        Fields { file, diags }
    }

    pub fn pos(&self, v: &Json) -> LineCol {
        self.file.pos_of(v)
    }

    pub fn origin(&self, v: &Json) -> Origin {
        Origin::new(&self.file.path, Some(self.pos(v)))
    }

    pub fn origin_at(&self, offset: usize) -> Origin {
        Origin::new(&self.file.path, Some(self.file.pos(offset)))
    }

    pub fn error(&mut self, v: &Json, kind: &'static str, message: impl Into<String>) {
        let d = Diagnostic::error(kind, &self.file.path, Some(self.pos(v)), message);
        self.diags.push(d);
    }

    pub fn warning(&mut self, v: &Json, kind: &'static str, message: impl Into<String>) {
        let d = Diagnostic::warning(kind, &self.file.path, Some(self.pos(v)), message);
        self.diags.push(d);
    }

    pub fn note(&mut self, v: &Json, kind: &'static str, message: impl Into<String>) {
        let d = Diagnostic::note(kind, &self.file.path, Some(self.pos(v)), message);
        self.diags.push(d);
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn wrong_type(&mut self, v: &Json, what: &str, expected: &str) {
        self.error(
            v,
            "json-type",
            format!("{what} should be {expected}, not {}", v.type_name()),
        );
    }

    /// Member `key` of object `obj`; a missing one is a `missing-key` error at the object.
    pub fn req<'j>(&mut self, obj: &'j Json, key: &str, context: &str) -> Option<&'j Json> {
        match obj.get(key) {
            Some(v) => Some(v),
            None => {
                self.error(obj, "missing-key", format!("{context} has no `{key}`"));
                None
            }
        }
    }

    pub fn object<'j>(&mut self, v: &'j Json, what: &str) -> Option<&'j [Member]> {
        match &v.value {
            JsonValue::Object(m) => Some(m),
            _ => {
                self.wrong_type(v, what, "an object");
                None
            }
        }
    }

    pub fn array<'j>(&mut self, v: &'j Json, what: &str) -> Option<&'j [Json]> {
        match &v.value {
            JsonValue::Array(a) => Some(a),
            _ => {
                self.wrong_type(v, what, "an array");
                None
            }
        }
    }

    pub fn string<'j>(&mut self, v: &'j Json, what: &str) -> Option<&'j str> {
        match &v.value {
            JsonValue::String(s) => Some(s),
            _ => {
                self.wrong_type(v, what, "a string");
                None
            }
        }
    }

    pub fn number(&mut self, v: &Json, what: &str) -> Option<f64> {
        match &v.value {
            JsonValue::Number(n) => Some(n.value),
            _ => {
                self.wrong_type(v, what, "a number");
                None
            }
        }
    }

    /// A number as the Python value it is (`int` or `float`).
    pub fn py_number(&mut self, v: &Json, what: &str) -> Option<PyNum> {
        match &v.value {
            JsonValue::Number(n) => Some(py_num(n.value, n.is_int)),
            JsonValue::Bool(b) => Some(PyNum::Bool(*b)),
            _ => {
                self.wrong_type(v, what, "a number");
                None
            }
        }
    }

    /// A number or null (null: Ok(None)).
    pub fn number_or_null(&mut self, v: &Json, what: &str) -> Result<Option<f64>, ()> {
        match &v.value {
            JsonValue::Null => Ok(None),
            JsonValue::Number(n) => Ok(Some(n.value)),
            _ => {
                self.wrong_type(v, what, "a number or null");
                Err(())
            }
        }
    }

    /// Required numeric field.
    pub fn num_field(&mut self, obj: &Json, key: &str, context: &str) -> Option<f64> {
        let v = self.req(obj, key, context)?;
        self.number(v, &format!("`{key}`"))
    }

    /// Required field that may be null (an amplitude set at run time).
    pub fn num_or_null_field(
        &mut self,
        obj: &Json,
        key: &str,
        context: &str,
    ) -> Result<Option<f64>, ()> {
        let v = self.req(obj, key, context).ok_or(())?;
        self.number_or_null(v, &format!("`{key}`"))
    }

    /// Optional numeric field (absent: None; wrongly typed: reported, None).
    pub fn opt_num_field(&mut self, obj: &Json, key: &str) -> Option<f64> {
        let v = obj.get(key)?;
        if v.is_null() {
            return None;
        }
        self.number(v, &format!("`{key}`"))
    }

    pub fn str_field<'j>(&mut self, obj: &'j Json, key: &str, context: &str) -> Option<&'j str> {
        let v = self.req(obj, key, context)?;
        self.string(v, &format!("`{key}`"))
    }

    pub fn opt_str_field<'j>(&mut self, obj: &'j Json, key: &str) -> Option<&'j str> {
        let v = obj.get(key)?;
        if v.is_null() {
            return None;
        }
        self.string(v, &format!("`{key}`"))
    }

    pub fn opt_bool_field(&mut self, obj: &Json, key: &str) -> Option<bool> {
        let v = obj.get(key)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.wrong_type(v, &format!("`{key}`"), "true or false");
                None
            }
        }
    }

    /// A list of strings (wrong items reported and skipped).
    pub fn strings(&mut self, v: &Json, what: &str) -> Vec<String> {
        let Some(items) = self.array(v, what) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|i| {
                self.string(i, &format!("an item of {what}"))
                    .map(str::to_string)
            })
            .collect()
    }
}

/// The Python number a JSON number becomes.
pub(crate) fn py_num(value: f64, is_int: bool) -> PyNum {
    if is_int && value.abs() < 9.2e18 {
        PyNum::Int(value as i64)
    } else {
        PyNum::Float(value)
    }
}
