"""The core: calls, ACD, tickets and customers as pure logic. Nothing here does I/O."""
