// Package helm tests the Helm chart in fleetscope/ and the plain manifests
// rendered from it into ../kubernetes: the chart lints, every rendered
// object decodes strictly into its Kubernetes API type, the agent's
// configuration agrees with the mounts, the pod keeps its privileges to what
// the agent needs, and the committed manifests equal the chart's output.
//
// The tests run the helm binary (from PATH or GOPATH/bin) and skip without
// it, unless FLEETSCOPE_INTEGRATION=1 makes that a failure. After a
// deliberate change to the chart, regenerate the manifests and the chart's
// copy of the alert rules with
//
//	go test ./packaging/helm -update
package helm
