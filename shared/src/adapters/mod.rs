//! Implementations of the ports over the AWS SDK and HTTP. The only place that knows
//! `AttributeValue`, SDK error types or JSON-RPC framing.

pub mod autoscaling;
pub mod dynamo;
pub mod ec2;
pub mod secrets;
pub mod weka_rpc;

/// Loads the shared AWS SDK configuration from the environment (region, credentials, and
/// `AWS_ENDPOINT_URL` when pointing at an emulator). Call once at init.
pub async fn load_aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
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
