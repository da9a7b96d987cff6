//! The process's AWS SDK clients: one per service, each built on the first call that uses it.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// An SDK client built the first time something calls through it, then kept: every clone shares
/// the one built. Building a client (endpoint rules, partition table, runtime plugins) cost about
/// a tenth of a millisecond each and most of what separated a function's cold start from the
/// smallest one's; built on first use, an invocation pays only for the services it calls, once
/// per process.
pub struct LazyClient<C>(Arc<Cell<C>>);

struct Cell<C> {
    client: OnceLock<C>,
    build: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> LazyClient<C> {
    /// A client `build` makes on first use.
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self(Arc::new(Cell {
            client: OnceLock::new(),
            build: Box::new(build),
        }))
    }

    /// Whether the client has been built.
    pub fn is_built(&self) -> bool {
        self.0.client.get().is_some()
    }
}

/// An already built client (tests hand their own).
impl<C: Clone + Send + Sync + 'static> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        let built = client.clone();
        Self(Arc::new(Cell {
            client: OnceLock::from(built),
            build: Box::new(move || client.clone()),
        }))
    }
}

impl<C> Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.0.client.get_or_init(|| (self.0.build)())
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("client", &std::any::type_name::<C>())
            .field("built", &self.is_built())
            .finish()
    }
}

/// The SDK clients of one process, one per service: adapters on the same service share it
/// (`AwsScalingGroups` and `AwsInventory` both use EC2 and Auto Scaling), and none is built
/// before an adapter calls through it.
#[derive(Debug, Clone)]
pub struct AwsClients {
    dynamodb: LazyClient<aws_sdk_dynamodb::Client>,
    ec2: LazyClient<aws_sdk_ec2::Client>,
    autoscaling: LazyClient<aws_sdk_autoscaling::Client>,
    secrets: LazyClient<aws_sdk_secretsmanager::Client>,
}

impl AwsClients {
    /// Clients on `sdk`, none built yet.
    pub fn new(sdk: aws_config::SdkConfig) -> Self {
        let sdk = Arc::new(sdk);
        Self {
            dynamodb: on(&sdk, aws_sdk_dynamodb::Client::new),
            ec2: on(&sdk, aws_sdk_ec2::Client::new),
            autoscaling: on(&sdk, aws_sdk_autoscaling::Client::new),
            secrets: on(&sdk, aws_sdk_secretsmanager::Client::new),
        }
    }

    /// The DynamoDB client.
    pub fn dynamodb(&self) -> LazyClient<aws_sdk_dynamodb::Client> {
        self.dynamodb.clone()
    }

    /// The EC2 client.
    pub fn ec2(&self) -> LazyClient<aws_sdk_ec2::Client> {
        self.ec2.clone()
    }

    /// The Auto Scaling client.
    pub fn autoscaling(&self) -> LazyClient<aws_sdk_autoscaling::Client> {
        self.autoscaling.clone()
    }

    /// The Secrets Manager client.
    pub fn secrets(&self) -> LazyClient<aws_sdk_secretsmanager::Client> {
        self.secrets.clone()
    }

    /// How many clients were built (one per service called through).
    #[cfg(test)]
    pub(super) fn built(&self) -> usize {
        [
            self.dynamodb.is_built(),
            self.ec2.is_built(),
            self.autoscaling.is_built(),
            self.secrets.is_built(),
        ]
        .into_iter()
        .filter(|built| *built)
        .count()
    }
}

/// A client of one service on the shared configuration, built on first use.
pub(crate) fn on<C: 'static>(
    sdk: &Arc<aws_config::SdkConfig>,
    build: fn(&aws_config::SdkConfig) -> C,
) -> LazyClient<C> {
    let sdk = Arc::clone(sdk);
    LazyClient::new(move || build(&sdk))
}
