package containerd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/anypb"
)

// This file decodes containerd's container records straight from the
// bytes of its answer, so that labels the agent does not keep are never
// copied out of the message: a container may carry thousands of labels of
// 4 KiB each, and decoding them all into a map (as the generated code
// does) would hold the whole label set twice, once per message and once
// per container. Only the fields discovery reads are decoded; the
// extensions and unknown fields are skipped.

// wireReader is a message's bytes, read once from the start. gRPC's
// received buffers provide it without first copying the message into one
// contiguous slice.
type wireReader interface {
	io.Reader
	io.ByteReader
	Discard(n int) (int, error)
	Remaining() int
}

// Field numbers of containerd.services.containers.v1.Container and of the
// messages it holds.
const (
	fieldContainerID          = 1
	fieldContainerLabels      = 2
	fieldContainerImage       = 3
	fieldContainerRuntime     = 4
	fieldContainerSpec        = 5
	fieldContainerSnapshotter = 6
	fieldContainerSnapshotKey = 7
	fieldContainerCreatedAt   = 8
	fieldContainerUpdatedAt   = 9
	fieldContainerSandbox     = 11

	fieldRuntimeName = 1 // Container.Runtime.name
	fieldAnyValue    = 2 // google.protobuf.Any.value
	fieldEntryKey    = 1 // a map entry's key
	fieldEntryValue  = 2 // a map entry's value
	fieldSeconds     = 1 // google.protobuf.Timestamp.seconds
	fieldNanos       = 2 // google.protobuf.Timestamp.nanos

	// fieldListContainer is the container(s) of ListContainerMessage
	// (one) and of ListContainersResponse (repeated): both are field 1.
	fieldListContainer = 1
)

// maxLabelEntry bounds a label entry that is read at all. containerd
// refuses a label over 4 KiB; a larger entry is skipped unread and counted
// as cut.
const maxLabelEntry = 64 << 10

var errWire = errors.New("malformed message from containerd")

// recordBatch is what one ListStream message or one List answer decodes
// into: its records, with their labels already cut by policy.
type recordBatch struct {
	policy *LabelPolicy
	recs   []Record
	// size is the bytes the records hold (their kept fields), for the
	// bound on a whole list.
	size int
}

// decode reads a message whose field 1 is a container record, once or
// repeated, appending each to b.recs.
func (b *recordBatch) decode(r wireReader) error {
	var d wireDecoder
	d.r = r
	d.labels.reset(b.policy)
	for r.Remaining() > 0 {
		num, typ, err := d.tag()
		if err != nil {
			return err
		}
		if num != fieldListContainer || typ != protowire.BytesType {
			if err := d.skip(typ); err != nil {
				return err
			}
			continue
		}
		n, err := d.length()
		if err != nil {
			return err
		}
		rec, size, err := d.record(n)
		if err != nil {
			return err
		}
		b.recs = append(b.recs, rec)
		b.size += size
	}
	return nil
}

type wireDecoder struct {
	r       wireReader
	scratch []byte
	labels  labelSet
}

func (d *wireDecoder) tag() (protowire.Number, protowire.Type, error) {
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", errWire, err)
	}
	num, typ := protowire.DecodeTag(v)
	if num < protowire.MinValidNumber {
		return 0, 0, fmt.Errorf("%w: field number %d", errWire, num)
	}
	return num, typ, nil
}

// length reads a length prefix and checks it against what is left.
func (d *wireDecoder) length() (int, error) {
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errWire, err)
	}
	if v > uint64(d.r.Remaining()) {
		return 0, fmt.Errorf("%w: a field of %d bytes in %d", errWire, v, d.r.Remaining())
	}
	return int(v), nil
}

// skip passes over one field's value of wire type typ.
func (d *wireDecoder) skip(typ protowire.Type) error {
	var n int
	switch typ {
	case protowire.VarintType:
		_, err := binary.ReadUvarint(d.r)
		if err != nil {
			return fmt.Errorf("%w: %v", errWire, err)
		}
		return nil
	case protowire.Fixed32Type:
		n = 4
	case protowire.Fixed64Type:
		n = 8
	case protowire.BytesType:
		var err error
		if n, err = d.length(); err != nil {
			return err
		}
	default:
		// Groups are not in containerd's messages.
		return fmt.Errorf("%w: wire type %d", errWire, typ)
	}
	if _, err := d.r.Discard(n); err != nil {
		return fmt.Errorf("%w: %v", errWire, err)
	}
	return nil
}

// bytes reads n bytes into a new slice.
func (d *wireDecoder) bytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		return nil, fmt.Errorf("%w: %v", errWire, err)
	}
	return b, nil
}

// record decodes a Container of n bytes.
func (d *wireDecoder) record(n int) (Record, int, error) {
	var r Record
	end := d.r.Remaining() - n
	size := 0
	for d.r.Remaining() > end {
		num, typ, err := d.tag()
		if err != nil {
			return r, 0, err
		}
		if typ != protowire.BytesType {
			if err := d.skip(typ); err != nil {
				return r, 0, err
			}
			continue
		}
		l, err := d.length()
		if err != nil {
			return r, 0, err
		}
		if d.r.Remaining()-l < end {
			return r, 0, fmt.Errorf("%w: a field overruns its container", errWire)
		}
		if num == fieldContainerLabels {
			if err := d.label(l); err != nil {
				return r, 0, err
			}
			continue
		}
		switch num {
		case fieldContainerID, fieldContainerImage, fieldContainerRuntime, fieldContainerSpec,
			fieldContainerSnapshotter, fieldContainerSnapshotKey, fieldContainerCreatedAt,
			fieldContainerUpdatedAt, fieldContainerSandbox:
		default:
			// Extensions (client-chosen blobs) and fields of newer
			// daemons.
			if _, err := d.r.Discard(l); err != nil {
				return r, 0, fmt.Errorf("%w: %v", errWire, err)
			}
			continue
		}
		b, err := d.bytes(l)
		if err != nil {
			return r, 0, err
		}
		size += l
		switch num {
		case fieldContainerID:
			r.ID = string(b)
		case fieldContainerImage:
			r.Image = string(b)
		case fieldContainerSnapshotter:
			r.Snapshotter = string(b)
		case fieldContainerSnapshotKey:
			r.SnapshotKey = string(b)
		case fieldContainerSandbox:
			r.SandboxID = string(b)
		case fieldContainerRuntime:
			if v, ok := submessageField(b, fieldRuntimeName); ok {
				r.Runtime = string(v)
			}
		case fieldContainerSpec:
			if v, ok := submessageField(b, fieldAnyValue); ok && len(v) > 0 {
				r.Spec = v
			}
		case fieldContainerCreatedAt:
			r.CreatedAt, err = timestampOf(b)
		case fieldContainerUpdatedAt:
			r.UpdatedAt, err = timestampOf(b)
		}
		if err != nil {
			return r, 0, err
		}
	}
	if d.r.Remaining() != end {
		return r, 0, fmt.Errorf("%w: a field overruns its container", errWire)
	}
	r.Labels, r.LabelsCut = d.labels.done()
	d.labels.reset(d.labels.p)
	for k, v := range r.Labels {
		size += len(k) + len(v)
	}
	return r, size, nil
}

// label reads one labels map entry of n bytes.
func (d *wireDecoder) label(n int) error {
	if n > maxLabelEntry {
		d.labels.cut++
		if _, err := d.r.Discard(n); err != nil {
			return fmt.Errorf("%w: %v", errWire, err)
		}
		return nil
	}
	if cap(d.scratch) < n {
		d.scratch = make([]byte, n, max(n, 4<<10))
	}
	b := d.scratch[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		return fmt.Errorf("%w: %v", errWire, err)
	}
	var key, value []byte
	for len(b) > 0 {
		num, typ, m := protowire.ConsumeTag(b)
		if m < 0 {
			return fmt.Errorf("%w: label: %v", errWire, protowire.ParseError(m))
		}
		b = b[m:]
		if num == fieldEntryKey && typ == protowire.BytesType {
			key, m = protowire.ConsumeBytes(b)
		} else if num == fieldEntryValue && typ == protowire.BytesType {
			value, m = protowire.ConsumeBytes(b)
		} else {
			m = protowire.ConsumeFieldValue(num, typ, b)
		}
		if m < 0 {
			return fmt.Errorf("%w: label: %v", errWire, protowire.ParseError(m))
		}
		b = b[m:]
	}
	d.labels.add(key, value)
	return nil
}

// submessageField returns the last value of bytes field num in message b.
func submessageField(b []byte, want protowire.Number) ([]byte, bool) {
	var out []byte
	found := false
	for len(b) > 0 {
		num, typ, m := protowire.ConsumeTag(b)
		if m < 0 {
			return nil, false
		}
		b = b[m:]
		if num == want && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil, false
			}
			out, found = v, true
			b = b[m:]
			continue
		}
		if m = protowire.ConsumeFieldValue(num, typ, b); m < 0 {
			return nil, false
		}
		b = b[m:]
	}
	return out, found
}

// timestampOf decodes a google.protobuf.Timestamp.
func timestampOf(b []byte) (time.Time, error) {
	var sec, nsec int64
	for len(b) > 0 {
		num, typ, m := protowire.ConsumeTag(b)
		if m < 0 {
			return time.Time{}, fmt.Errorf("%w: timestamp: %v", errWire, protowire.ParseError(m))
		}
		b = b[m:]
		if typ == protowire.VarintType && (num == fieldSeconds || num == fieldNanos) {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return time.Time{}, fmt.Errorf("%w: timestamp: %v", errWire, protowire.ParseError(m))
			}
			b = b[m:]
			if num == fieldSeconds {
				sec = int64(v)
			} else {
				nsec = int64(int32(v))
			}
			continue
		}
		if m = protowire.ConsumeFieldValue(num, typ, b); m < 0 {
			return time.Time{}, fmt.Errorf("%w: timestamp: %v", errWire, protowire.ParseError(m))
		}
		b = b[m:]
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// Field numbers of containerd.services.events.v1.Envelope (the events
// service's message, containerd's types.Envelope) and google.protobuf.Any.
const (
	fieldEnvelopeTimestamp = 1
	fieldEnvelopeNamespace = 2
	fieldEnvelopeTopic     = 3
	fieldEnvelopeEvent     = 4
	fieldAnyTypeURL        = 1
)

// maxTypeURL bounds an event's type URL; containerd's are under 64 bytes.
const maxTypeURL = 1 << 10

// envelopeMsg is what one message of the event stream decodes into. A
// container's create and update events are reduced to the container's id
// while they are decoded: an update carries the container's whole label
// set (up to containerd's 16 MiB message bound), and discovery reads the
// record again through the label policy anyway.
type envelopeMsg struct{ env Envelope }

func (m *envelopeMsg) decode(r wireReader) error {
	d := wireDecoder{r: r}
	m.env = Envelope{}
	for r.Remaining() > 0 {
		num, typ, err := d.tag()
		if err != nil {
			return err
		}
		if typ != protowire.BytesType || num < fieldEnvelopeTimestamp || num > fieldEnvelopeEvent {
			if err := d.skip(typ); err != nil {
				return err
			}
			continue
		}
		n, err := d.length()
		if err != nil {
			return err
		}
		if num == fieldEnvelopeEvent {
			if m.env.Event, err = d.event(n); err != nil {
				return err
			}
			continue
		}
		b, err := d.bytes(n)
		if err != nil {
			return err
		}
		switch num {
		case fieldEnvelopeTimestamp:
			if m.env.Timestamp, err = timestampOf(b); err != nil {
				return err
			}
		case fieldEnvelopeNamespace:
			m.env.Namespace = string(b)
		case fieldEnvelopeTopic:
			m.env.Topic = string(b)
		}
	}
	return nil
}

// event decodes an Any of n bytes. The value of a container create or
// update event is reduced to the container's id (field 1) without reading
// the rest, when the type URL comes first, as every encoder writes it.
func (d *wireDecoder) event(n int) (*anypb.Any, error) {
	a := &anypb.Any{}
	end := d.r.Remaining() - n
	for d.r.Remaining() > end {
		num, typ, err := d.tag()
		if err != nil {
			return nil, err
		}
		if typ != protowire.BytesType || (num != fieldAnyTypeURL && num != fieldAnyValue) {
			if err := d.skip(typ); err != nil {
				return nil, err
			}
			continue
		}
		l, err := d.length()
		if err != nil {
			return nil, err
		}
		if d.r.Remaining()-l < end {
			return nil, fmt.Errorf("%w: a field overruns its event", errWire)
		}
		if num == fieldAnyTypeURL {
			if l > maxTypeURL {
				return nil, fmt.Errorf("%w: an event type URL of %d bytes", errWire, l)
			}
			b, err := d.bytes(l)
			if err != nil {
				return nil, err
			}
			a.TypeUrl = string(b)
			continue
		}
		if a.TypeUrl == containerCreateURL || a.TypeUrl == containerUpdateURL {
			if a.Value, err = d.idOnly(l); err != nil {
				return nil, err
			}
			continue
		}
		if a.Value, err = d.bytes(l); err != nil {
			return nil, err
		}
	}
	if d.r.Remaining() != end {
		return nil, fmt.Errorf("%w: a field overruns its event", errWire)
	}
	return a, nil
}

// idOnly reads a message of n bytes and returns it re-encoded with its
// field 1 (a container event's id) only.
func (d *wireDecoder) idOnly(n int) ([]byte, error) {
	end := d.r.Remaining() - n
	var out []byte
	for d.r.Remaining() > end {
		num, typ, err := d.tag()
		if err != nil {
			return nil, err
		}
		if num != 1 || typ != protowire.BytesType {
			if err := d.skip(typ); err != nil {
				return nil, err
			}
			continue
		}
		l, err := d.length()
		if err != nil {
			return nil, err
		}
		if l > maxTypeURL {
			// Container ids are at most 76 bytes.
			return nil, fmt.Errorf("%w: a container id of %d bytes", errWire, l)
		}
		id, err := d.bytes(l)
		if err != nil {
			return nil, err
		}
		out = protowire.AppendBytes(protowire.AppendTag(out[:0], 1, protowire.BytesType), id)
	}
	if d.r.Remaining() != end {
		return nil, fmt.Errorf("%w: a field overruns its event", errWire)
	}
	return out, nil
}

// eventContainerID returns the id (field 1) of a container event's
// encoded message, reading nothing else: a ContainerUpdate event carries
// the container's whole label set, which discovery does not need (it
// re-reads the record through the label policy).
func eventContainerID(b []byte) (string, error) {
	v, ok := submessageField(b, 1)
	if !ok {
		return "", fmt.Errorf("%w: container event without an id", errWire)
	}
	return string(v), nil
}

// byteWireReader reads a message held in one slice, for records that do
// not come from gRPC (tests, fuzzing).
type byteWireReader struct{ b []byte }

func (r *byteWireReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (r *byteWireReader) ReadByte() (byte, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *byteWireReader) Discard(n int) (int, error) {
	if n > len(r.b) {
		m := len(r.b)
		r.b = nil
		return m, io.ErrUnexpectedEOF
	}
	r.b = r.b[n:]
	return n, nil
}

func (r *byteWireReader) Remaining() int { return len(r.b) }
