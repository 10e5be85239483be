package spec

import (
	"errors"
	"fmt"
)

// Annotations a container uses to opt in and pick its profile.
const (
	AnnotationRestore = "io.crhook.restore"
	AnnotationProfile = "io.crhook.profile"
)

// ErrNotAllowed marks a request for a profile the admin did not allow.
var ErrNotAllowed = errors.New("profile not allowed")

// Request is what a container asked for, already checked against policy.
type Request struct {
	OptedIn bool
	Profile Profile
}

// OptedIn reports whether annotations ask for crhook, without validating
// anything else. Hooks use it to return at once for everyone else.
func OptedIn(annotations map[string]string) bool {
	_, ok := annotations[AnnotationRestore]
	return ok
}

// ResolveRequest reads the opt-in annotations and checks them against the
// admin's policy. A container that did not opt in gets a zero Request.
func ResolveRequest(annotations map[string]string, policy Policy) (Request, error) {
	switch v, ok := annotations[AnnotationRestore]; {
	case !ok || v == "false":
		return Request{}, nil
	case v != "true":
		return Request{}, BadInput(fmt.Errorf("annotation %s=%s must be \"true\" or \"false\"", AnnotationRestore, quote(v)))
	}
	name, ok := annotations[AnnotationProfile]
	if !ok {
		return Request{OptedIn: true, Profile: policy.DefaultProfile}, nil
	}
	profile, err := ParseProfile(name)
	if err != nil {
		return Request{}, fmt.Errorf("annotation %s: %w", AnnotationProfile, err)
	}
	if !policy.Allows(profile) {
		return Request{}, fmt.Errorf("%w: profile %q is not in the admin's allowed_profiles (%s); pick one of those or ask the admin to allow it",
			ErrNotAllowed, profile, profileList(policy.AllowedProfiles))
	}
	return Request{OptedIn: true, Profile: profile}, nil
}
