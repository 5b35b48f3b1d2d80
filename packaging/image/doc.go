// Package image holds the integration test of the agent's container image:
// it builds the repository's Dockerfile for real with podman or buildah,
// without a registry, imports the result into a private containerd and runs
// it there with the mounts and the single capability the DaemonSet grants,
// next to the containers it must observe.
//
// build-base.sh, beside this file, makes the Dockerfile's build stage from a
// local Go installation for machines that cannot pull the golang image.
package image
