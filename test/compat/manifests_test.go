package compat

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"sigs.k8s.io/yaml"

	"github.com/crhook/crhook/install"
	"github.com/crhook/crhook/spec"
)

// manifests is where the Kubernetes manifests are.
const manifests = "../../deploy/kubernetes"

// documents splits a manifest file into its YAML documents.
func documents(t *testing.T, file string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(manifests, file))
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, d := range bytes.Split(data, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

// decodeStrict decodes one document into out, failing on unknown or
// duplicate fields, so a typo in a manifest fails here, not on a cluster.
func decodeStrict(t *testing.T, doc []byte, out any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, out); err != nil {
		t.Fatalf("%T: %v", out, err)
	}
}

func kindOf(t *testing.T, doc []byte) string {
	t.Helper()
	var meta struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		t.Fatal(err)
	}
	return meta.Kind
}

func TestRuntimeClass(t *testing.T) {
	docs := documents(t, "runtimeclass.yaml")
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	var rc nodev1.RuntimeClass
	decodeStrict(t, docs[0], &rc)
	if rc.APIVersion != "node.k8s.io/v1" || rc.Name != "crhook" || rc.Handler != install.RuntimeName {
		t.Errorf("RuntimeClass %s handler %q, want handler %q (the runtime crhook install adds)", rc.Name, rc.Handler, install.RuntimeName)
	}
}

func TestDaemonSet(t *testing.T) {
	var ds *appsv1.DaemonSet
	var cm *corev1.ConfigMap
	for _, doc := range documents(t, "daemonset.yaml") {
		switch kind := kindOf(t, doc); kind {
		case "Namespace":
			decodeStrict(t, doc, &corev1.Namespace{})
		case "ConfigMap":
			cm = &corev1.ConfigMap{}
			decodeStrict(t, doc, cm)
		case "DaemonSet":
			ds = &appsv1.DaemonSet{}
			decodeStrict(t, doc, ds)
		default:
			t.Errorf("unexpected kind %q", kind)
		}
	}
	if ds == nil || cm == nil {
		t.Fatal("want a DaemonSet and its ConfigMap")
	}
	if engine := cm.Data["engine"]; engine != "containerd" && engine != "crio" {
		t.Errorf("engine %q must be containerd or crio", engine)
	}
	if !strings.Contains(cm.Data["config.toml"], "allowed_profiles") {
		t.Error("the ConfigMap must carry the admin config")
	}
	pod := ds.Spec.Template
	if !labelsMatch(ds.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("selector %v does not match template labels %v", ds.Spec.Selector.MatchLabels, pod.Labels)
	}
	if len(pod.Spec.InitContainers) != 1 || len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one install init container and one idle container")
	}
	installer := pod.Spec.InitContainers[0]
	script := strings.Join(installer.Args, " ")
	for _, want := range []string{"crhook install --for \"$ENGINE\"", "--host-root /host", "--install-binary /usr/local/bin"} {
		if !strings.Contains(script, want) {
			t.Errorf("installer script lacks %q", want)
		}
	}
	if installer.Env[0].ValueFrom.ConfigMapKeyRef.Name != cm.Name || installer.Env[0].ValueFrom.ConfigMapKeyRef.Key != "engine" {
		t.Error("ENGINE must come from the ConfigMap's engine value")
	}
	idle := pod.Spec.Containers[0].SecurityContext
	if idle == nil || idle.Privileged != nil || idle.RunAsNonRoot == nil || !*idle.RunAsNonRoot || !slices.Contains(idle.Capabilities.Drop, "ALL") {
		t.Error("the idle container must run non-root with nothing")
	}
}

func TestExamplePod(t *testing.T) {
	docs := documents(t, "example-pod.yaml")
	var pod corev1.Pod
	decodeStrict(t, docs[0], &pod)
	if pod.Spec.RuntimeClassName == nil || *pod.Spec.RuntimeClassName != "crhook" {
		t.Error("the example pod must use runtimeClassName: crhook")
	}
	if pod.Annotations[spec.AnnotationRestore] != "true" {
		t.Errorf("the example pod must opt in with %s", spec.AnnotationRestore)
	}
	if _, err := spec.ParseProfile(pod.Annotations[spec.AnnotationProfile]); err != nil {
		t.Error(err)
	}
	sc := pod.Spec.SecurityContext
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Error("the example pod must be non-root")
	}
	c := pod.Spec.Containers[0].SecurityContext
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation || !slices.Equal(c.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(c.Capabilities.Add) != 0 {
		t.Error("the example pod must drop ALL capabilities and add none: crhook grants what it needs")
	}
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

// TestCRIUPods: the dump and restore pods of docs/criu.md opt in with the
// same profile and user, share the image volume, and differ only where
// criu needs them to: the dump pod runs unconfined, the restore pod under
// the runtime's default seccomp profile and runs the preflight first.
func TestCRIUPods(t *testing.T) {
	docs := documents(t, "criu-pods.yaml")
	if len(docs) != 2 {
		t.Fatalf("%d documents, want the dump pod and the restore pod", len(docs))
	}
	var dump, restore corev1.Pod
	decodeStrict(t, docs[0], &dump)
	decodeStrict(t, docs[1], &restore)
	for _, p := range []corev1.Pod{dump, restore} {
		if p.Spec.RuntimeClassName == nil || *p.Spec.RuntimeClassName != "crhook" || p.Annotations[spec.AnnotationRestore] != "true" {
			t.Errorf("%s must run under the crhook RuntimeClass and opt in", p.Name)
		}
		c := p.Spec.Containers[0]
		if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation || len(c.SecurityContext.Capabilities.Add) != 0 {
			t.Errorf("%s must add no capability and allow no escalation", p.Name)
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/ckpt" {
			t.Errorf("%s must mount the images at /ckpt", p.Name)
		}
	}
	if dump.Annotations[spec.AnnotationProfile] != restore.Annotations[spec.AnnotationProfile] {
		t.Error("dump and restore must use the same profile")
	}
	if *dump.Spec.SecurityContext.RunAsUser != *restore.Spec.SecurityContext.RunAsUser {
		t.Error("dump and restore must run as the same user")
	}
	if dump.Spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
		t.Error("the dump pod must run unconfined: criu cannot dump under a seccomp filter")
	}
	if restore.Spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("the restore pod keeps the runtime's default seccomp profile")
	}
	script := strings.Join(restore.Spec.Containers[0].Args, " ")
	if strings.Index(script, "crhook verify --images /ckpt") > strings.Index(script, "criu restore") {
		t.Error("the restore pod must run the preflight before criu restore")
	}
}
