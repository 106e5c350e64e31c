//! Pure Tendermint consensus state machine: messages and timeouts in, actions out; no I/O, no clock
