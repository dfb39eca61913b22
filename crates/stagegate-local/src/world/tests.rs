use super::*;

/// Every function the definitions name is in the lists, as invoked by a state.
#[test]
fn the_definition_names_only_functions_of_the_list() {
    let subs = substitutions();
    for (name, how) in stagegate::flow::FUNCTIONS {
        let key = substitution_key(name);
        let used = STAGING_DEFINITION.contains(&format!("${{{key}}}"));
        let by_state = *how == stagegate::flow::Invoked::ByState;
        if *how == stagegate::flow::Invoked::InProduction {
            let key = substitution_key(&production_name(name));
            assert!(
                PRODUCTION_DEFINITION.contains(&format!("${{{key}}}")),
                "{name}"
            );
        }
        assert_eq!(
            used, by_state,
            "{name}: in the definition {used}, by state {by_state}"
        );
        assert!(subs.contains_key(&key));
    }
}
