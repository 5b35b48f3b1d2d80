// Package kubelet holds the node test: a standalone kubelet (static pods,
// no API server) on containerd's CRI plugin runs the agent's image as a
// static pod made from the Helm chart's rendered DaemonSet, next to
// Burstable, Guaranteed, BestEffort, two-container and crash-looping pods,
// and the test checks what the agent reports about them against the
// cgroups the kubelet made.
//
// node.sh, beside this file, runs containerd and the kubelet in a private
// mount namespace; scripts/kubelet.sh builds the kubelet.
package kubelet
