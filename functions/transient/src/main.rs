use lambda_runtime::{run, service_fn, tracing};
use weka_shared::handlers::transient::handle;
use weka_shared::lambda::serve;

#[global_allocator]
static ALLOCATOR: weka_shared::lambda::Allocator = weka_shared::lambda::ALLOCATOR;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    run(service_fn(|event| {
        serve(event, |payload, _| handle(payload))
    }))
    .await
}
