//! The names first-party plugins rely on in each other's resources: a plugin that wires
//! itself to the Prefect server (a database, a message broker, a metrics exporter, a network
//! policy, a worker's rights) finds the server's workloads, container and settings by these,
//! never by copies of them. The server plugin's tests check its output against them, so a
//! rename there fails its own tests first.
//!
//! Every resource is named `<release>-<component>` ([`Context::full_name`]); a plugin reads
//! them from the graph it is given, so it should declare `after` (or `requires`) the plugin
//! that adds them.
//!
//! [`Context::full_name`]: crate::Context::full_name

/// The `server` plugin's API server.
pub mod server {
    /// The component: the Deployment and the Service are `<release>-server`.
    pub const COMPONENT: &str = "server";
    /// The Deployment's container that runs the API.
    pub const CONTAINER: &str = "prefect-server";
    /// The port the API listens on inside the pod (the container port).
    pub const PORT: i32 = 4200;
    /// The name of that container port (the probes and the Service's `targetPort` use it).
    pub const PORT_NAME: &str = "http";
    /// The container's variable that holds the basic-auth string (`USER:PASSWORD`), when
    /// the server asks for one: a client sends it as `PREFECT_API_AUTH_STRING`.
    pub const AUTH_STRING_VAR: &str = "PREFECT_SERVER_API_AUTH_STRING";
    /// The container's variable that holds the API's base path, when it is not `/api`.
    pub const BASE_PATH_VAR: &str = "PREFECT_SERVER_API_BASE_PATH";
}

/// The `server` plugin's background services, when they run in a Deployment of their own.
pub mod background_services {
    /// The component: the Deployment is `<release>-background-services`.
    pub const COMPONENT: &str = "background-services";
    /// Its container.
    pub const CONTAINER: &str = "prefect-background-services";
}

/// The `server` plugin's database migration Job, when the database is PostgreSQL.
pub mod migrations {
    /// The component: the Job is `<release>-db-migrations`.
    pub const COMPONENT: &str = "db-migrations";
    /// Its container.
    pub const CONTAINER: &str = "prefect-db-migrations";
}

/// The `agent` plugin's worker.
pub mod worker {
    /// The component: the Deployment, its ServiceAccount, Role and RoleBinding are
    /// `<release>-worker`.
    pub const COMPONENT: &str = "worker";
}
