package events

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/nowebsocket/nows/internal/hookcheck"
	"github.com/nowebsocket/nows/internal/wire"
)

// validator is a payload type that checks itself after decoding.
type validator interface{ Validate() error }

// decode reads a payload into In, then runs its Validate method (on In or
// *In). Its error is the client's: bad_payload, or invalid with
// Validate's text (an *Error from Validate is kept, code invalid when it
// has none).
func decode[In any](data []byte) (In, *wire.Error) {
	var in In
	if err := wire.Unmarshal(data, &in); err != nil {
		return in, err.(*wire.Error)
	}
	v, ok := any(in).(validator)
	if !ok {
		v, ok = any(&in).(validator)
	}
	if !ok {
		return in, nil
	}
	err := v.Validate()
	if err == nil {
		return in, nil
	}
	if e, ok := errors.AsType[*Error](err); ok {
		we := wire.Error(*e)
		if we.Code == "" {
			we.Code = wire.CodeInvalid
		}
		return in, &we
	}
	return in, &wire.Error{Code: wire.CodeInvalid, Message: err.Error()}
}

var errorType = reflect.TypeFor[error]()

// checkPayload panics when In has a method named Validate that decode
// would not call, as it would be a check that silently never runs.
func checkPayload[In any](event string) {
	if event == "" {
		panic("events: an event with an empty name: give On or Handle the event's name")
	}
	for _, t := range []reflect.Type{reflect.TypeFor[In](), reflect.PointerTo(reflect.TypeFor[In]())} {
		m, ok := t.MethodByName("Validate")
		if !ok {
			continue
		}
		f := m.Type
		if f.NumIn() != 1 || f.NumOut() != 1 || f.Out(0) != errorType {
			panic(fmt.Sprintf("events: event %q: method (%v).Validate has signature %v; want func() error, or it is never called",
				event, t, hookcheck.Signature(f)))
		}
	}
}
