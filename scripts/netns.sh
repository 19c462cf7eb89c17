#!/usr/bin/env bash
# Runs a command inside a network namespace of its own with a veth pair addressed in the
# benchmarking range 198.18.0.0/15 (Firefox gathers no ICE candidates on loopback alone, and
# this keeps test traffic off the machine's real interfaces), plus 198.18.0.3 for a TURN
# server. Needs root.
#   scripts/netns.sh COMMAND [ARGS...]    (E2E_MEDIA_IP is set for the command)
set -euo pipefail

ns="relais-test-$$"
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"

cleanup() { $sudo ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT

$sudo ip netns add "$ns"
$sudo ip netns exec "$ns" ip link set lo up
$sudo ip netns exec "$ns" ip link add rt0 type veth peer name rt1
$sudo ip netns exec "$ns" ip addr add 198.18.0.1/24 dev rt0
$sudo ip netns exec "$ns" ip addr add 198.18.0.2/24 dev rt1
# A TURN server's own address, so a test can block every UDP datagram but its relayed ones.
$sudo ip netns exec "$ns" ip addr add 198.18.0.3/24 dev rt1
$sudo ip netns exec "$ns" ip link set rt0 up
$sudo ip netns exec "$ns" ip link set rt1 up
# Firefox gathers candidates only on the interface of the default route.
$sudo ip netns exec "$ns" ip route add default dev rt1

$sudo ip netns exec "$ns" env E2E_MEDIA_IP=198.18.0.1 "$@"
