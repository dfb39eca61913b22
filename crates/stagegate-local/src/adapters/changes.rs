//! The change preview of a local "stack": the packaged template's resources diffed
//! against the last rehearsed ones, each modification's Replacement (`True`,
//! `False`, `Conditional`) from its type's create-only properties, as a
//! CloudFormation change set reports it.

use serde_json::Value;
use sha2::{Digest, Sha256};
use stagegate::ports::ResourceChange;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A template's resources: logical id → definition.
pub(super) type Resources = BTreeMap<String, Value>;

pub(super) fn resources_of(template: &str) -> Result<BTreeMap<String, Value>, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template)
        .map_err(|e| format!("the template is not valid YAML: {e}"))?;
    let json =
        serde_json::to_value(&doc).map_err(|e| format!("the template cannot be read: {e}"))?;
    let resources = json
        .get("Resources")
        .and_then(Value::as_object)
        .ok_or("the template has no Resources section")?;
    Ok(resources
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

pub(super) fn version_of(resources: &Option<BTreeMap<String, Value>>) -> String {
    match resources {
        None => String::new(),
        Some(r) => hex::encode(&Sha256::digest(serde_json::to_vec(r).unwrap_or_default())[..8]),
    }
}

pub(super) fn diff(
    old: Option<&BTreeMap<String, Value>>,
    new: &BTreeMap<String, Value>,
) -> Vec<ResourceChange> {
    let empty = BTreeMap::new();
    let old = old.unwrap_or(&empty);
    let ty = |v: &Value| {
        v.get("Type")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let mut out = Vec::new();
    for (id, def) in new {
        match old.get(id) {
            None => out.push(ResourceChange {
                action: "Add".into(),
                logical_id: id.clone(),
                resource_type: ty(def),
                replacement: String::new(),
            }),
            Some(prev) if prev != def => out.push(ResourceChange {
                action: "Modify".into(),
                logical_id: id.clone(),
                resource_type: ty(def),
                replacement: replacement(prev, def).into(),
            }),
            Some(_) => {}
        }
    }
    for (id, def) in old {
        if !new.contains_key(id) {
            out.push(ResourceChange {
                action: "Remove".into(),
                logical_id: id.clone(),
                resource_type: ty(def),
                replacement: String::new(),
            });
        }
    }
    out
}

/// The properties whose change replaces a resource, by type: CloudFormation's
/// registry schemas as cfn-lint ships them (`data/create-only-properties.json`, made by
/// `data/generate.py`), and SAM's own types mapped by hand.
#[derive(serde::Deserialize)]
struct CreateOnly {
    #[serde(rename = "createOnly", default)]
    create_only: Vec<String>,
    #[serde(default)]
    conditional: Vec<String>,
}

fn create_only_properties() -> &'static HashMap<String, CreateOnly> {
    static TABLE: std::sync::OnceLock<HashMap<String, CreateOnly>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct File {
            types: HashMap<String, CreateOnly>,
        }
        serde_json::from_str::<File>(include_str!("../../data/create-only-properties.json"))
            .map(|f| f.types)
            // The file is generated and checked by a test; an unreadable one would
            // only make every replacement "Conditional", never a wrong "False".
            .unwrap_or_default()
    })
}

/// Whether CloudFormation replaces a resource whose definition goes from `old` to
/// `new`, as a change set says it: `True` when a create-only property changes (or the
/// type), `Conditional` when a conditionally create-only one does or the type has no
/// schema, `False` otherwise.
pub fn replacement(old: &Value, new: &Value) -> &'static str {
    let ty = |v: &Value| v.get("Type").and_then(Value::as_str).map(str::to_string);
    if ty(old) != ty(new) {
        return "True";
    }
    let props = |v: &Value| {
        v.get("Properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (a, b) = (props(old), props(new));
    let changed: BTreeSet<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    if changed.is_empty() {
        // Only attributes outside Properties (Metadata, DependsOn, ...) changed.
        return "False";
    }
    let Some(rules) = ty(new).and_then(|t| create_only_properties().get(&t)) else {
        return "Conditional";
    };
    if changed.iter().any(|p| rules.create_only.contains(p)) {
        "True"
    } else if changed.iter().any(|p| rules.conditional.contains(p)) {
        "Conditional"
    } else {
        "False"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_diff_reports_adds_modifies_and_removes() {
        let old = resources_of(
            "Resources:\n  A: {Type: T1, Properties: {x: 1}}\n  B: {Type: T2}\n  C: {Type: T3}\n",
        )
        .unwrap();
        let new = resources_of("Resources:\n  A: {Type: T1, Properties: {x: 2}}\n  B: {Type: T9}\n  D: !Ref Something\n").unwrap_or_else(|e| panic!("{e}"));
        let d = diff(Some(&old), &new);
        let summary: Vec<(String, String, String)> = d
            .iter()
            .map(|c| {
                (
                    c.action.clone(),
                    c.logical_id.clone(),
                    c.replacement.clone(),
                )
            })
            .collect();
        assert!(summary.contains(&("Modify".into(), "A".into(), "Conditional".into())));
        assert!(summary.contains(&("Modify".into(), "B".into(), "True".into())));
        assert!(summary.contains(&("Add".into(), "D".into(), String::new())));
        assert!(summary.contains(&("Remove".into(), "C".into(), String::new())));
        assert!(diff(Some(&new), &new).is_empty());
    }
    /// Replacement as CloudFormation reports it, from the registry's create-only
    /// properties: (type, old properties, new properties, replacement).
    #[test]
    fn replacement_follows_the_create_only_properties_of_the_type() {
        let cases = json!([
            ["AWS::Lambda::Function", {"FunctionName": "a", "MemorySize": 128}, {"FunctionName": "b", "MemorySize": 128}, "True"],
            ["AWS::Lambda::Function", {"MemorySize": 128}, {"MemorySize": 256}, "False"],
            ["AWS::DynamoDB::Table", {"KeySchema": [{"AttributeName": "id"}]}, {"KeySchema": [{"AttributeName": "pk"}]}, "Conditional"],
            ["AWS::DynamoDB::Table", {"TableName": "a"}, {"TableName": "b"}, "True"],
            ["AWS::SQS::Queue", {"FifoQueue": false}, {"FifoQueue": true}, "True"],
            ["AWS::SQS::Queue", {"VisibilityTimeout": 30}, {"VisibilityTimeout": 60}, "False"],
            ["AWS::Serverless::Function", {"CodeUri": "a/"}, {"CodeUri": "b/"}, "False"],
            ["AWS::Serverless::Function", {"FunctionName": "a"}, {"FunctionName": "b"}, "True"],
            // A type without a schema: CloudFormation would know, we cannot.
            ["Custom::Thing", {"A": 1}, {"A": 2}, "Conditional"]
        ]);
        assert_eq!(cases.as_array().map(Vec::len), Some(9));
        for case in cases.as_array().into_iter().flatten() {
            let (ty, expected) = (&case[0], &case[3]);
            let old = json!({"Type": ty, "Properties": case[1]});
            let new = json!({"Type": ty, "Properties": case[2]});
            assert_eq!(
                Some(replacement(&old, &new)),
                expected.as_str(),
                "{old} → {new}"
            );
        }
        // Only metadata changed: nothing is replaced.
        assert_eq!(
            replacement(
                &json!({"Type": "AWS::SQS::Queue", "Metadata": {"a": 1}}),
                &json!({"Type": "AWS::SQS::Queue", "Metadata": {"a": 2}})
            ),
            "False"
        );
    }
    #[test]
    fn the_create_only_table_covers_the_registry() {
        let t = create_only_properties();
        assert!(t.len() > 1000, "{} types", t.len());
        assert!(t["AWS::Lambda::Function"]
            .create_only
            .contains(&"FunctionName".to_string()));
    }
    #[test]
    fn sam_templates_with_intrinsic_tags_parse() {
        let r = resources_of("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Role: !GetAtt Role.Arn\n      Env: !Sub '${AWS::Region}'\n").unwrap();
        assert_eq!(r["Fn"]["Type"], "AWS::Serverless::Function");
    }
}
