package storage

import "syscall"

// errENOSPC is the disk-full error a commit's write or fsync may return.
var errENOSPC error = syscall.ENOSPC
