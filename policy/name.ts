// The pack's name, apart from its policies so that programs which only refer to the pack (the
// delivery/deployments/ program enabling it per stack) can import it without loading the pack.
export const PACK_NAME = "env-progression";
