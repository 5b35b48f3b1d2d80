#!/usr/bin/env bash
# Builds the kube-apiserver that internal/testenv's StartAPIServer runs,
# once per version, and prints its path: see scripts/kubernetes-binary.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/kubernetes-binary.sh" kube-apiserver
