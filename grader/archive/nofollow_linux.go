package archive

import "syscall"

// syscallNoFollow keeps a create from following a symbolic link that an
// earlier entry might have planted (none are written, but the folder may
// hold some from elsewhere).
const syscallNoFollow = syscall.O_NOFOLLOW
