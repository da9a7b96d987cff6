//! Implementations of the ports over the AWS SDK and HTTP. The only place that knows
//! `AttributeValue`, SDK error types or JSON-RPC framing.

pub mod autoscaling;
pub mod dynamo;
pub mod ec2;
pub mod secrets;
pub mod weka_rpc;

/// Longest one SDK attempt may take (a slow or silent endpoint fails and is retried).
pub const SDK_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);
/// Longest one SDK operation may take, its retries included: below the 30 s of the shortest
/// function timeout, so a hung call fails as `Weka.Transient` instead of the runtime killing
/// the invocation mid-write.
pub const SDK_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Loads the shared AWS SDK configuration from the environment (region, credentials, and
/// `AWS_ENDPOINT_URL` when pointing at an emulator), with every call bounded in time. Call once
/// at init.
pub async fn load_aws_config() -> aws_config::SdkConfig {
    aws_config_loader().load().await
}

/// The SDK configuration every function loads, before the environment is read: the tests load
/// it with their own endpoint and credentials.
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
            .operation_timeout(SDK_OPERATION_TIMEOUT)
            .build(),
    )
}

/// Whether an SDK failure is worth retrying later: throttling, timeouts, connection trouble,
/// 5xx from the service.
pub(crate) fn is_transient_sdk_error<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::SdkError;
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => matches!(
            service.err().code(),
            Some(
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionConflictException"
                    | "Throttling"
                    | "RequestThrottled"
                    | "InternalFailure"
                    | "InternalServiceError"
            )
        ),
        _ => false,
    }
}
