package fakeclock

// SetAdvanceWaitHook makes f run whenever an advance is about to wait for
// another goroutine's advance to finish, until restore is called. Tests
// use it to know, without sleeping, that a second advance is waiting.
func SetAdvanceWaitHook(f func()) (restore func()) {
	old := testHookAdvanceWait
	testHookAdvanceWait = f
	return func() { testHookAdvanceWait = old }
}
