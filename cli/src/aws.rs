//! The console's ports over the AWS SDK: `status` through Lambda's `Invoke`, the caller through
//! STS; the pause goes through the state store's own DynamoDB adapter.

use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::Value;
use weka_shared::error::error_chain;

use crate::ports::{CallError, CallerIdentity, StatusFunction};

/// One `status` attempt may take this long: a plan asks WEKA and the groups, and a cold start
/// adds its init.
const INVOKE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(70);
/// And the call, its retries included.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(150);

/// The SDK configuration: the functions' (bounded calls, compiled-in roots) with the
/// deployment's region when it names one; credentials, profile and `AWS_ENDPOINT_URL` from the
/// environment as the AWS CLI reads them.
pub async fn sdk_config(region: Option<&str>) -> SdkConfig {
    let mut loader = weka_shared::adapters::aws_config_loader();
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    loader.load().await
}

/// The deployment's `status` function, invoked synchronously.
#[derive(Debug, Clone)]
pub struct LambdaStatus {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaStatus {
    /// `function` on the Lambda client of `config`.
    pub fn new(config: &SdkConfig, function: String) -> Self {
        let lambda = aws_sdk_lambda::config::Builder::from(config)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(INVOKE_ATTEMPT_TIMEOUT)
                    .operation_timeout(INVOKE_TIMEOUT)
                    .build(),
            )
            .build();
        Self {
            client: aws_sdk_lambda::Client::from_conf(lambda),
            function,
        }
    }
}

impl StatusFunction for LambdaStatus {
    async fn call(&self, request: Value) -> Result<Value, CallError> {
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(aws_sdk_lambda::primitives::Blob::new(request.to_string()))
            .send()
            .await
            .map_err(|e| CallError::Aws {
                call: "lambda:Invoke",
                reason: error_chain(&e),
            })?;
        let body = out.payload().map(|b| b.as_ref()).unwrap_or_default();
        let answer = |reason: String| CallError::Answer {
            call: "lambda:Invoke",
            reason,
        };
        if out.function_error().is_some() {
            let error: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let field = |name: &str| {
                error
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
            };
            return Err(CallError::Function {
                function: self.function.clone(),
                error_type: field("errorType"),
                message: field("errorMessage"),
            });
        }
        serde_json::from_slice(body).map_err(|e| answer(e.to_string()))
    }
}

/// The caller as STS knows it.
#[derive(Debug, Clone)]
pub struct StsIdentity {
    client: aws_sdk_sts::Client,
}

impl StsIdentity {
    /// On the STS client of `config`.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_sts::Client::new(config),
        }
    }
}

impl CallerIdentity for StsIdentity {
    async fn caller(&self) -> Result<String, CallError> {
        let out = self
            .client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| CallError::Aws {
                call: "sts:GetCallerIdentity",
                reason: error_chain(&e),
            })?;
        out.arn()
            .map(str::to_owned)
            .ok_or_else(|| CallError::Answer {
                call: "sts:GetCallerIdentity",
                reason: "no ARN in the answer".to_owned(),
            })
    }
}
