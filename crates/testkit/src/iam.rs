//! IAM on an IAM-enforcing moto ([`Moto::start_enforcing_iam`]): users holding
//! exactly one policy, made within the server's unauthenticated allowance.

use crate::Moto;
use serde_json::Value;

impl Moto {
    /// An IAM user holding exactly `policy` (one inline policy), and its access key
    /// (id, secret). Three requests: CreateUser, PutUserPolicy, CreateAccessKey
    /// (within an IAM-enforcing server's unauthenticated allowance).
    pub async fn iam_user(&self, name: &str, policy: &Value) -> (String, String) {
        self.iam_call(&[("Action", "CreateUser"), ("UserName", name)])
            .await;
        let doc = policy.to_string();
        self.iam_call(&[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "only-this"),
            ("PolicyDocument", &doc),
        ])
        .await;
        let xml = self
            .iam_call(&[("Action", "CreateAccessKey"), ("UserName", name)])
            .await;
        let field = |tag: &str| {
            let open = format!("<{tag}>");
            let at = xml.find(&open).map(|i| i + open.len());
            let end = at.and_then(|a| xml[a..].find('<').map(|e| a + e));
            match (at, end) {
                (Some(a), Some(e)) => xml[a..e].to_string(),
                _ => panic!("CreateAccessKey answered without {tag}: {xml}"),
            }
        };
        (field("AccessKeyId"), field("SecretAccessKey"))
    }

    /// One IAM Query API request (unsigned: only within the unauthenticated allowance;
    /// the credential scope names the service so the server routes it to IAM).
    async fn iam_call(&self, params: &[(&str, &str)]) -> String {
        use stagegate::ports::{Http, HttpRequest};
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("Version", "2010-05-08")
            .extend_pairs(params)
            .finish();
        let auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0";
        let request = HttpRequest {
            method: "POST".into(),
            url: format!("{}/", self.endpoint()),
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("authorization".into(), auth.into()),
            ],
            body: Some(body),
        };
        let r = stagegate_https::HttpsClient::new()
            .send(&request)
            .await
            .unwrap_or_else(|e| panic!("IAM {params:?}: {e}"));
        assert!(
            r.status < 300,
            "IAM {:?}: {} {}",
            params[0],
            r.status,
            r.body
        );
        r.body
    }
}
