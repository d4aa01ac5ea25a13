// snapshot-service: a small Go HTTP service in an opslog trace, as the seed's Go services
// (failover engine, volume daemon) would be instrumented: the OpenTelemetry Go SDK, otelhttp
// on both sides, W3C traceparent and baggage.
//
// POST /snapshot takes the caller's trace and baggage, records the job_id baggage member on its
// span, and calls the Python service at -callback (POST, JSON) inside that trace, so the trace
// runs Python -> Go -> Python. It exports OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, listens on
// 127.0.0.1 only, prints "listening on 127.0.0.1:PORT", and stops on SIGTERM/SIGINT or after
// -max-lifetime.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: the OS picks)")
	callback := flag.String("callback", "", "URL of the Python service to call back")
	maxLifetime := flag.Duration("max-lifetime", 2*time.Minute, "stop by itself after this long")
	flag.Parse()

	ctx := context.Background()
	// The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT; the resource OTEL_SERVICE_NAME.
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		log.Fatalf("exporter: %v", err)
	}
	resource, err := sdkresource.New(ctx, sdkresource.WithFromEnv(), sdkresource.WithTelemetrySDK())
	if err != nil {
		log.Fatalf("resource: %v", err)
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(resource))
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))

	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport), Timeout: 10 * time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /snapshot", func(w http.ResponseWriter, r *http.Request) {
		snapshot(w, r, client, *callback)
	})

	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	server := &http.Server{Handler: otelhttp.NewHandler(mux, "snapshot-service")}
	fmt.Printf("listening on %s\n", listener.Addr())
	os.Stdout.Sync()
	go func() { _ = server.Serve(listener) }()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-stop:
	case <-time.After(*maxLifetime):
	}
	shutdownCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdownCtx)
	_ = provider.Shutdown(shutdownCtx)
}

func snapshot(w http.ResponseWriter, r *http.Request, client *http.Client, callback string) {
	ctx := r.Context()
	span := trace.SpanFromContext(ctx)
	jobID := baggage.FromContext(ctx).Member("job_id").Value()
	// otelhttp names the span from the mux pattern ("POST /snapshot") but leaves
	// http.route to the handler.
	_, route, _ := strings.Cut(r.Pattern, " ")
	span.SetAttributes(attribute.String("job_id", jobID), attribute.String("http.route", route))

	ctx, child := otel.Tracer("snapshot-service").Start(ctx, "linstor-snapshot")
	defer child.End()
	child.SetAttributes(attribute.String("job_id", jobID))

	body, _ := json.Marshal(map[string]string{"volume_id": "vol-go-1", "vm_id": "vm-go-1"})
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, callback, bytes.NewReader(body))
	if err != nil {
		fail(w, child, err)
		return
	}
	request.Header.Set("Content-Type", "application/json")
	response, err := client.Do(request)
	if err != nil {
		fail(w, child, err)
		return
	}
	defer response.Body.Close()
	answer, _ := io.ReadAll(response.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"job_id": %q, "callback_status": %d, "callback": %s}`,
		jobID, response.StatusCode, answer)
}

func fail(w http.ResponseWriter, span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	http.Error(w, err.Error(), http.StatusBadGateway)
}
