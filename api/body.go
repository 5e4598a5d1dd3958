package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/claimable/eventrouter/subscriptions"
)

// decodeBody reads r's JSON body into dst, strictly: the content type must be
// application/json, the body at most maxBytes, no unknown fields, nothing after the one
// JSON value. With optional, an empty body leaves dst untouched. Errors are *Problem.
func decodeBody(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any, optional bool) error {
	body := http.MaxBytesReader(w, r.Body, maxBytes)
	// Peek one byte to tell an empty body from a present one (Content-Length may be absent).
	var first [1]byte
	n, err := io.ReadFull(body, first[:])
	if n == 0 {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if optional {
				return nil
			}
			return newProblem(http.StatusBadRequest, kindBadRequest, "a JSON request body is required")
		}
		return readProblem(err, maxBytes)
	}
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		return newProblem(http.StatusUnsupportedMediaType, kindMediaType,
			fmt.Sprintf("Content-Type must be application/json, not %q", ct))
	}
	dec := json.NewDecoder(io.MultiReader(bytes.NewReader(first[:]), body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return readProblem(err, maxBytes)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return readProblem(err, maxBytes)
		}
		return newProblem(http.StatusBadRequest, kindBadRequest, "the body holds more than one JSON value")
	}
	return nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// readProblem turns a body read or decode error into a precise problem.
func readProblem(err error, maxBytes int64) *Problem {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return newProblem(http.StatusRequestEntityTooLarge, kindTooLarge,
			fmt.Sprintf("the body exceeds %d bytes", maxBytes))
	case errors.As(err, &syntax):
		return newProblem(http.StatusBadRequest, kindBadRequest,
			fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, err))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newProblem(http.StatusBadRequest, kindBadRequest, "malformed JSON: the body ends early")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return newProblem(http.StatusBadRequest, kindBadRequest, "a field has the wrong JSON type",
			subscriptions.FieldError{Field: field, Message: "must be a JSON " + jsonTypeName(typ.Type) + ", not " + typ.Value})
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return newProblem(http.StatusBadRequest, kindBadRequest, "unknown field "+name,
			subscriptions.FieldError{Field: name, Message: "is not a known field"})
	}
	return newProblem(http.StatusBadRequest, kindBadRequest, "unreadable body: "+err.Error())
}

// jsonTypeName names the JSON type a Go type decodes from.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	default:
		return "number"
	}
}
