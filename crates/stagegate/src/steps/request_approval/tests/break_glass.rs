//! Break-glass through the desk: only with an approval of a promotion, only with a
//! reason; whatever a form claims otherwise is refused, and nothing is recorded.

use super::*;

/// A production approval decided by dana and erin (two of two), requested; their links.
async fn production() -> (World, BTreeMap<String, String>) {
    let people: Vec<Approver> = ["dana", "erin"]
        .into_iter()
        .map(|id| Approver {
            decides: vec![ApprovalKind::Production],
            ..approver(id, Some(&format!("{id}-gh")))
        })
        .collect();
    let w = World::with(
        Settings {
            required_approvals: 2,
            ..Settings::production()
        },
        people,
    );
    let mut input = w.input(&[]);
    input.kind = ApprovalKind::Production;
    w.step().run(input).await.unwrap();
    let links = w.links();
    (w, links)
}

impl World {
    async fn glass(
        &self,
        link_id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<Decided, Refusal> {
        let form = Form {
            break_glass: true,
            ..form(approve, reason)
        };
        self.desk(5)
            .decide_by_link(link_id, &self.token(link_id), form)
            .await
            .unwrap()
    }
}

fn refused(r: Result<Decided, Refusal>, says: &str) {
    match r {
        Err(Refusal::InvalidForm(why)) => assert!(why.contains(says), "{why}"),
        other => panic!("not refused ({says}): {other:?}"),
    }
}

#[tokio::test]
async fn break_glass_needs_a_production_approval_an_approval_and_a_reason() {
    let (w, links) = production().await;
    refused(w.glass(&links["dana"], true, None).await, "needs a reason");
    refused(
        w.glass(&links["dana"], true, Some("   ")).await,
        "needs a reason",
    );
    refused(
        w.glass(&links["dana"], false, Some("no")).await,
        "not a rejection",
    );
    assert!(w.record().votes.is_empty(), "nothing recorded");
    assert_eq!(
        w.glass(&links["dana"], true, Some("CVE fix")).await,
        Ok(Decided::Recorded { remaining: 1 })
    );
    assert!(w.record().votes[0].break_glass);
    // A staging approval has no glass to break, whatever the form says.
    let s = World::new(Settings::default());
    let links = s.request(&[]).await;
    refused(
        s.glass(&links["bob"], true, Some("urgent")).await,
        "not a production approval",
    );
    assert!(s.record().votes.is_empty());
}
