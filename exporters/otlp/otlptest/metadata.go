package otlptest

import (
	"context"

	"google.golang.org/grpc/metadata"
)

func metadataFrom(ctx context.Context) (map[string]string, bool) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, false
	}
	h := make(map[string]string, len(md))
	for k, v := range md {
		if len(v) > 0 {
			h[k] = v[0]
		}
	}
	return h, true
}
