//! Where the LS learns a user's service level (paper §IV.B step 2).
//!
//! The paper's LS reads the same subscriber database as the MAs. lsd does not
//! connect to that database yet; [`ConfigSubscribers`] is a static map from
//! the config file, honest about being a stand-in. Anything that implements
//! [`SubscriberLevels`] can replace it without touching the decision code.

use lin6::addr::NodeId;
use lin6::ls::ServiceLevel;
use std::collections::BTreeMap;

pub trait SubscriberLevels: Send {
    /// The level `node` subscribed to, or `None` if it is not a subscriber.
    fn level(&self, node: NodeId) -> Option<ServiceLevel>;
}

/// Subscribers listed in lsd's own config (`subscribers:`).
#[derive(Debug, Clone, Default)]
pub struct ConfigSubscribers(pub BTreeMap<NodeId, ServiceLevel>);

impl SubscriberLevels for ConfigSubscribers {
    fn level(&self, node: NodeId) -> Option<ServiceLevel> {
        self.0.get(&node).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_nodes_get_their_level_and_others_none() {
        let n: NodeId = "02:01:4a:00:00:00:00:01".parse().unwrap();
        let s = ConfigSubscribers([(n, ServiceLevel::Premium)].into());
        assert_eq!(s.level(n), Some(ServiceLevel::Premium));
        assert_eq!(s.level(NodeId::from_u64(5)), None);
    }
}
