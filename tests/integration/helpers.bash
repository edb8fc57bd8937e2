# Shared by the bats files: where the binary is, temp dirs, small assertions.
bats_require_minimum_version 1.5.0
: "${SLIPWAY:=$BATS_TEST_DIRNAME/../../slipway}"
export SLIPWAY
