# tests/cli/scale/0121-scale-rebalance.sh at the size of the default suite: 1 -> 3 -> 2 instances with SIGTERM, eager and cooperative,
# over 4 partitions and 8 tenants. `make scale` runs it at full size (12 partitions,
# thousands of events over 24 tenants).
SCALE_PARTITIONS=${SCALE_PARTITIONS:-4} SCALE_EVENTS=${SCALE_EVENTS:-1600} SCALE_TENANTS=${SCALE_TENANTS:-8} \
  exec bash "$(dirname "$0")/scale/0121-scale-rebalance.sh"
