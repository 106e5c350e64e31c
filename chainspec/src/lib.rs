//! Chain specs: validators, members, roles, genesis contracts; presets dev and local
