#!/bin/sh
# Runs a one-node Kubernetes "cluster" for the node test: containerd with its
# CRI plugin, then a standalone kubelet (static pods, no API server), both
# in the private mount namespace this script must be started in:
#
#   unshare --mount --propagation private packaging/kubelet/node.sh DIR KUBELET
#
# DIR holds containerd.toml and kubelet.yaml (written by the test) and
# receives everything the two write. In the namespace the host paths the
# kubelet and the CRI plugin write to are covered, so the host keeps none of
# it and its sysctls stay as they are:
#   - /var/lib and /var/log get an overlay whose upper layer is in DIR
#     (/var/lib/cni, /var/log/containers, /var/log/pods appear only there);
#   - /run/containerd (shim sockets, fifos) is a directory of DIR;
#   - the sysctl files the kubelet rewrites are copies in DIR, bind-mounted.
# The kubelet's own root is DIR/kubelet (--root-dir). The cgroups it makes
# (/kubepods in every hierarchy) are shared with the host: the test removes
# them on teardown.
#
# containerd starts first; the kubelet starts once DIR/start-kubelet exists,
# so that the test can import images before static pods are tried. Their
# pids go to DIR/containerd.pid and DIR/kubelet.pid, logs to DIR/*.log.
set -eu

dir=$1
kubelet=$2

# Nothing below may reach the host's mount table.
mount --make-rprivate /

for d in /var/lib /var/log; do
	name=$(echo "$d" | tr / _)
	mkdir -p "$dir/overlay/$name/upper" "$dir/overlay/$name/work"
	mount -t overlay overlay \
		-o "lowerdir=$d,upperdir=$dir/overlay/$name/upper,workdir=$dir/overlay/$name/work" "$d"
done
# /run is a tmpfs; an empty /run/containerd is all the host may gain.
mkdir -p "$dir/run-containerd" /run/containerd
mount --bind "$dir/run-containerd" /run/containerd

mkdir -p "$dir/sysctl"
for f in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops \
	kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
	[ -e "/proc/sys/$f" ] || continue
	copy="$dir/sysctl/$(echo "$f" | tr / .)"
	cat "/proc/sys/$f" >"$copy"
	mount --bind "$copy" "/proc/sys/$f"
done

containerd --config "$dir/containerd.toml" >"$dir/containerd.log" 2>&1 &
echo $! >"$dir/containerd.pid"

while [ ! -e "$dir/start-kubelet" ]; do
	if ! kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null; then
		echo "node.sh: containerd exited" >&2
		exit 1
	fi
	sleep 0.2
done

"$kubelet" --config "$dir/kubelet.yaml" --root-dir "$dir/kubelet" --v=2 >"$dir/kubelet.log" 2>&1 &
echo $! >"$dir/kubelet.pid"
wait
