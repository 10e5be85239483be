package shim

import "testing"

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Invocation
	}{
		{name: "empty"},
		{name: "version", args: []string{"--version"}},
		{
			name: "containerd shim create",
			args: []string{"--root", "/run/containerd/runc/default", "--log", "/run/x/log.json", "--log-format", "json",
				"create", "--bundle", "/run/containerd/io.containerd.runtime.v2.task/default/c1", "--pid-file", "/run/x/init.pid", "c1"},
			want: Invocation{Command: "create", Bundle: "/run/containerd/io.containerd.runtime.v2.task/default/c1", ID: "c1", Log: "/run/x/log.json", LogFormat: "json", Root: "/run/containerd/runc/default"},
		},
		{
			name: "conmon create with = forms and systemd cgroups",
			args: []string{"--systemd-cgroup", "--root=/run/runc", "--log-format=json", "--log=/l", "create", "--bundle=/b", "--pid-file", "/p", "--no-pivot", "id"},
			want: Invocation{Command: "create", Bundle: "/b", ID: "id", Log: "/l", LogFormat: "json", Root: "/run/runc"},
		},
		{name: "short -b", args: []string{"run", "-b", "/b", "id"}, want: Invocation{Command: "run", Bundle: "/b", ID: "id"}},
		{name: "single-dash long flag", args: []string{"-root", "/r", "run", "-bundle", "/b", "id"}, want: Invocation{Command: "run", Bundle: "/b", ID: "id", Root: "/r"}},
		{name: "last bundle wins", args: []string{"create", "-b", "/one", "--bundle", "/two", "id"}, want: Invocation{Command: "create", Bundle: "/two", ID: "id"}},
		{name: "no bundle means the working directory", args: []string{"run", "--detach", "id"}, want: Invocation{Command: "run", ID: "id"}},
		{name: "bundle flag without value", args: []string{"create", "--bundle"}, want: Invocation{Command: "create"}},
		{name: "crun cgroup manager", args: []string{"--cgroup-manager", "disabled", "run", "id"}, want: Invocation{Command: "run", ID: "id"}},
		{name: "state passes through", args: []string{"--root", "/r", "state", "--bundle", "/b"}, want: Invocation{Command: "state", Root: "/r"}},
		{name: "exec is not create", args: []string{"exec", "--process", "/p.json", "id"}, want: Invocation{Command: "exec", Process: "/p.json", ID: "id"}},
		{name: "docker exec", args: []string{"--root", "/var/run/docker/runtime-runc/moby", "--log", "/l", "--log-format", "json", "exec", "--process", "/tmp/runc-process1", "--detach", "--pid-file", "/p", "c9"},
			want: Invocation{Command: "exec", Process: "/tmp/runc-process1", ID: "c9", Root: "/var/run/docker/runtime-runc/moby", Log: "/l", LogFormat: "json"}},
		{name: "exec with -p and a command", args: []string{"exec", "-p", "/p.json", "c1", "sh"}, want: Invocation{Command: "exec", Process: "/p.json", ID: "c1"}},
		{name: "exec without a process file", args: []string{"exec", "-t", "c1", "sh"}, want: Invocation{Command: "exec"}},
		{name: "global value flag at the end", args: []string{"--root"}},
		{name: "double dash ends global flags", args: []string{"--", "run", "-b", "/b"}, want: Invocation{Command: "run", Bundle: "/b", ID: "/b"}},
		{name: "double dash ends command flags", args: []string{"run", "--", "-b", "/b"}, want: Invocation{Command: "run", ID: "/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseArgs(tt.args)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
