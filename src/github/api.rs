//! The GitHub REST calls pgrehearse makes, behind the small [`Api`] trait, and [`Rest`], its
//! implementation over `octocrab`'s generic `get`/`post`/`patch` (none of these calls needs a typed
//! model; the bodies are the REST API's JSON).

use std::future::Future;
use std::time::Duration;

use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{Value, json};

/// A failed call: the HTTP status when GitHub answered, and GitHub's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .status { Some(s) => format!("HTTP {s}: {}", .message), None => .message.clone() })]
pub struct ApiError {
    pub status: Option<u16>,
    pub message: String,
}

impl ApiError {
    /// The token may not write here: a pull request from a fork (read-only `GITHUB_TOKEN`), or a
    /// workflow without the `checks: write` / `pull-requests: write` permissions.
    pub fn is_forbidden(&self) -> bool {
        matches!(self.status, Some(401 | 403))
    }
}

impl From<octocrab::Error> for ApiError {
    fn from(e: octocrab::Error) -> ApiError {
        match e {
            octocrab::Error::GitHub { source, .. } => ApiError {
                status: Some(source.status_code.as_u16()),
                message: source.message,
            },
            other => ApiError {
                status: None,
                message: other.to_string(),
            },
        }
    }
}

/// A comment on an issue / pull request conversation, or an inline review comment.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
}

/// A file of a pull request, with its unified diff (absent for binary or very large files).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PullFile {
    pub filename: String,
    #[serde(default)]
    pub patch: Option<String>,
}

/// Every GitHub call pgrehearse makes. `repo` is `owner/name` everywhere.
pub trait Api {
    /// `POST /repos/{repo}/check-runs`; returns the check run's id.
    fn create_check_run(&self, body: &Value) -> impl Future<Output = Result<u64, ApiError>> + Send;
    /// `PATCH /repos/{repo}/check-runs/{id}`.
    fn update_check_run(
        &self,
        id: u64,
        body: &Value,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// `GET /repos/{repo}/issues/{pr}/comments`, every page.
    fn issue_comments(
        &self,
        pr: u64,
    ) -> impl Future<Output = Result<Vec<Comment>, ApiError>> + Send;
    /// `POST /repos/{repo}/issues/{pr}/comments`.
    fn create_issue_comment(
        &self,
        pr: u64,
        body: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// `PATCH /repos/{repo}/issues/comments/{id}`.
    fn update_issue_comment(
        &self,
        id: u64,
        body: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// `GET /repos/{repo}/pulls/{pr}/files`, every page.
    fn pull_files(&self, pr: u64) -> impl Future<Output = Result<Vec<PullFile>, ApiError>> + Send;
    /// `GET /repos/{repo}/pulls/{pr}/comments`, every page.
    fn review_comments(
        &self,
        pr: u64,
    ) -> impl Future<Output = Result<Vec<Comment>, ApiError>> + Send;
    /// `POST /repos/{repo}/pulls/{pr}/reviews`.
    fn create_review(
        &self,
        pr: u64,
        body: &Value,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// Items per page of list calls, and the most pages read (GitHub lists at most 3,000 PR files).
const PER_PAGE: usize = 100;
const MAX_PAGES: usize = 30;

/// The REST API through `octocrab`: token auth, two retries on 5xx/429 and connection errors, 10 s
/// to connect and 30 s to read.
pub struct Rest {
    client: Octocrab,
    repo: String,
}

impl Rest {
    /// A client for `api_url` (`https://api.github.com`, or `https://HOST/api/v3` for GitHub
    /// Enterprise Server) acting on `repo` (`owner/name`).
    pub fn new(api_url: &str, token: &str, repo: &str) -> Result<Rest, ApiError> {
        let client = Octocrab::builder()
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(|e| ApiError {
                status: None,
                message: format!("GITHUB_API_URL `{api_url}` is not a URL: {e}"),
            })?
            .personal_token(token.to_string())
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::Simple(2))
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()?;
        Ok(Rest {
            client,
            repo: repo.to_string(),
        })
    }

    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        route: &str,
    ) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let params = [("per_page", PER_PAGE), ("page", page)];
            let items: Vec<T> = self.client.get(route, Some(&params)).await?;
            let last = items.len() < PER_PAGE;
            all.extend(items);
            if last {
                break;
            }
        }
        Ok(all)
    }
}

/// A response body pgrehearse does not read.
#[derive(Deserialize)]
struct Ignored {}

#[derive(Deserialize)]
struct Created {
    id: u64,
}

impl Api for Rest {
    async fn create_check_run(&self, body: &Value) -> Result<u64, ApiError> {
        let created: Created = self
            .client
            .post(format!("/repos/{}/check-runs", self.repo), Some(body))
            .await?;
        Ok(created.id)
    }

    async fn update_check_run(&self, id: u64, body: &Value) -> Result<(), ApiError> {
        let _: Ignored = self
            .client
            .patch(format!("/repos/{}/check-runs/{id}", self.repo), Some(body))
            .await?;
        Ok(())
    }

    async fn issue_comments(&self, pr: u64) -> Result<Vec<Comment>, ApiError> {
        self.all_pages(&format!("/repos/{}/issues/{pr}/comments", self.repo))
            .await
    }

    async fn create_issue_comment(&self, pr: u64, body: &str) -> Result<(), ApiError> {
        let _: Ignored = self
            .client
            .post(
                format!("/repos/{}/issues/{pr}/comments", self.repo),
                Some(&json!({ "body": body })),
            )
            .await?;
        Ok(())
    }

    async fn update_issue_comment(&self, id: u64, body: &str) -> Result<(), ApiError> {
        let _: Ignored = self
            .client
            .patch(
                format!("/repos/{}/issues/comments/{id}", self.repo),
                Some(&json!({ "body": body })),
            )
            .await?;
        Ok(())
    }

    async fn pull_files(&self, pr: u64) -> Result<Vec<PullFile>, ApiError> {
        self.all_pages(&format!("/repos/{}/pulls/{pr}/files", self.repo))
            .await
    }

    async fn review_comments(&self, pr: u64) -> Result<Vec<Comment>, ApiError> {
        self.all_pages(&format!("/repos/{}/pulls/{pr}/comments", self.repo))
            .await
    }

    async fn create_review(&self, pr: u64, body: &Value) -> Result<(), ApiError> {
        let _: Ignored = self
            .client
            .post(
                format!("/repos/{}/pulls/{pr}/reviews", self.repo),
                Some(body),
            )
            .await?;
        Ok(())
    }
}
