"""kubernetes: cluster.local answers from a watch-fed cache of Services, EndpointSlices, Pods."""
