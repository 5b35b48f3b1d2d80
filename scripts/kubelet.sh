#!/usr/bin/env bash
# Builds the kubelet the node test (packaging/kubelet) runs, once per
# version, and prints its path: see scripts/kubernetes-binary.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/kubernetes-binary.sh" kubelet
