package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crhook/crhook/internal/errkind"
)

// Annotations a container uses to opt in and pick its profile. Engines
// that filter annotations must let AnnotationPrefix through.
const (
	AnnotationPrefix  = "io.crhook."
	AnnotationRestore = AnnotationPrefix + "restore"
	AnnotationProfile = AnnotationPrefix + "profile"
)

// ErrNotAllowed marks a request for a profile the admin did not allow.
var ErrNotAllowed = errors.New("profile not allowed")

// Request is what a container asked for, already checked against policy.
type Request struct {
	OptedIn bool
	Profile Profile
	// SharedPIDAllowed carries the admin's allow_shared_pid_namespace.
	SharedPIDAllowed bool
	// CheckpointSeccomp carries the admin's checkpoint_seccomp.
	CheckpointSeccomp CheckpointSeccompMode
}

// Annotations Kubernetes engines set on a pod's sandbox (pause)
// container. Pod annotations reach the sandbox too, and it is never
// granted anything.
const (
	AnnotationContainerdType = "io.kubernetes.cri.container-type"
	AnnotationCRIOType       = "io.kubernetes.cri-o.ContainerType"
	containerTypeSandbox     = "sandbox"
)

// IsSandbox reports whether annotations mark a pod sandbox container.
func IsSandbox(annotations map[string]string) bool {
	return annotations[AnnotationContainerdType] == containerTypeSandbox ||
		annotations[AnnotationCRIOType] == containerTypeSandbox
}

// OptedIn reports whether annotations ask for crhook, without validating
// anything else. Hooks use it to return at once for everyone else.
func OptedIn(annotations map[string]string) bool {
	_, ok := annotations[AnnotationRestore]
	return ok && !IsSandbox(annotations)
}

// ResolveRequest reads the opt-in annotations and checks them against the
// admin's policy. A container that did not opt in gets a zero Request.
func ResolveRequest(annotations map[string]string, policy Policy) (Request, error) {
	switch v, ok := annotations[AnnotationRestore]; {
	case !ok || v == "false" || IsSandbox(annotations):
		return Request{}, nil
	case v != "true":
		return Request{}, errkind.BadInput(fmt.Errorf("annotation %s=%s must be \"true\" or \"false\"", AnnotationRestore, quote(v)))
	}
	name, ok := annotations[AnnotationProfile]
	if !ok {
		return Request{OptedIn: true, Profile: policy.DefaultProfile, SharedPIDAllowed: policy.AllowSharedPID, CheckpointSeccomp: policy.CheckpointSeccomp}, nil
	}
	profile, err := ParseProfile(name)
	if err != nil {
		return Request{}, fmt.Errorf("annotation %s: %w", AnnotationProfile, err)
	}
	if !policy.Allows(profile) {
		return Request{}, fmt.Errorf("%w: profile %q is not in the admin's allowed_profiles (%s); pick one of those or ask the admin to allow it",
			ErrNotAllowed, profile, profileList(policy.AllowedProfiles))
	}
	return Request{OptedIn: true, Profile: profile, SharedPIDAllowed: policy.AllowSharedPID, CheckpointSeccomp: policy.CheckpointSeccomp}, nil
}

// cannotOptIn reports whether raw is a JSON object that cannot hold the
// opt-in annotation, because no string in it can be its name: the name
// is not there as text, and no \u escape could spell it. Such a spec is
// passed on byte for byte whatever else it holds: crhook's strictness
// is for containers that ask for something, and the runtime judges the
// rest. The check is a byte search and a syntax scan, nothing decoded.
func cannotOptIn(raw []byte) bool {
	if bytes.Contains(raw, []byte(AnnotationRestore)) || bytes.Contains(raw, []byte(`\u`)) {
		return false
	}
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(raw)
}

// RequestOf reads a config.json's request: a spec that cannot name the
// opt-in is not opted in, whatever its shape; one that can is parsed
// strictly and checked against policy.
func RequestOf(raw []byte, policy Policy) (Request, error) {
	if cannotOptIn(raw) {
		return Request{}, nil
	}
	s, err := Parse(raw)
	if err != nil {
		return Request{}, err
	}
	return ResolveRequest(s.Annotations, policy)
}

// RuntimeBinary is the runtime shim's name. Called as RuntimeBinary-P (a
// link such as crhook-runtime-minimal) it opts in, with profile P, every
// container whose annotations are silent: a runtime name is what
// Docker's, containerd's and CRI-O's runtime entries can all carry.
const RuntimeBinary = "crhook-runtime"

// RuntimeOptInOf reads the runtime-level opt-in from the shim's file
// name: ok is false when the name is not the shim's; profile is empty
// for plain crhook-runtime.
func RuntimeOptInOf(name string) (profile Profile, ok bool, err error) {
	if name == RuntimeBinary {
		return "", true, nil
	}
	suffix, found := strings.CutPrefix(name, RuntimeBinary+"-")
	if !found {
		return "", false, nil
	}
	profile, err = ParseProfile(suffix)
	if err != nil {
		return "", true, fmt.Errorf("runtime name %s: %w", quote(name), err)
	}
	return profile, true, nil
}
