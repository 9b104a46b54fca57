"""The core's own default behaviours, as ordinary ``trylast`` hook implementations."""
