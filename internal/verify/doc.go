// Package verify is `crhook verify`: run inside a container, it answers
// "will restore with chosen PIDs work here?" by doing it (a process tree
// placed with clone3 set_tid) and reports, each with a reason, the
// capability sets, seccomp, /proc/sys, ns_last_pid, a fresh /proc,
// map_files and no_new_privs. The report is the command's stable JSON.
package verify
