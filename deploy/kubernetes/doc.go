// Package kubernetes holds crhook's Kubernetes manifests (the crhook
// RuntimeClass, the installer DaemonSet and an example pod) and the test
// that parses them strictly into k8s.io/api types. There is no Go code to
// import here.
package kubernetes
