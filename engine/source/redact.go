package source

import (
	"errors"
	"regexp"
	"strings"
)

// ErrUnreachable is wrapped by Fetch errors when the remote could not be
// reached (network down, server gone, repository missing). The last fetched
// revision stays available through Head and At.
var ErrUnreachable = errors.New("source unreachable")

// ErrAuth is wrapped by Fetch errors when the remote refused the credentials.
var ErrAuth = errors.New("source refused the credentials")

// urlUserinfo matches the userinfo part of a URL: scheme://USERINFO@.
var urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)([^/@\s"']+)@`)

// Redact strips credentials from every URL in s: the password of
// user:password@ becomes "***", and a lone user name of an http(s) URL
// (where tokens are sent as user names) becomes "***". An ssh user name is
// kept, since it is no secret.
func Redact(s string) string {
	return urlUserinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlUserinfo.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		if user, _, ok := strings.Cut(info, ":"); ok {
			return scheme + user + ":***@"
		}
		if strings.HasPrefix(strings.ToLower(scheme), "http") {
			return scheme + "***@"
		}
		return m
	})
}

// sourceError is an error whose message has been redacted. It keeps the
// sentinels (ErrUnreachable, ErrAuth) for errors.Is, but never the go-git
// error it was made from, so that no caller can print an unredacted cause.
type sourceError struct {
	msg   string
	kinds []error
}

func (e *sourceError) Error() string   { return e.msg }
func (e *sourceError) Unwrap() []error { return e.kinds }

// redact removes this source's secrets from s: URLs with userinfo, and the
// literal token and password wherever they appear.
func (s *Source) redact(msg string) string {
	msg = Redact(msg)
	for _, secret := range []string{s.spec.Auth.Token, s.spec.Auth.Password} {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "***")
		}
	}
	return msg
}

// errorf builds a redacted error from a message prefix and a cause; kinds are
// the sentinels it wraps.
func (s *Source) errorf(prefix string, cause error, kinds ...error) error {
	msg := prefix
	if cause != nil {
		msg += ": " + strings.TrimPrefix(strings.TrimSpace(cause.Error()), "source: ")
	}
	var keep []error
	for _, k := range kinds {
		if k != nil {
			keep = append(keep, k)
		}
	}
	// A SignatureError stays visible to errors.As.
	var se *SignatureError
	if errors.As(cause, &se) {
		keep = append(keep, se)
	}
	return &sourceError{msg: s.redact(msg), kinds: keep}
}
