//! The `certificate` Lambda: everything is in `weka_shared::runtime::certificate`.

#[global_allocator]
static ALLOCATOR: weka_shared::lambda::Allocator = weka_shared::lambda::ALLOCATOR;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    weka_shared::runtime::certificate().await
}
