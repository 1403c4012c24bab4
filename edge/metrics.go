package edge

import (
	"sync/atomic"

	"github.com/edgegate/edgegate/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus metrics, registered on a registry owned
// by the Server (no global state: several servers can run in one process).
type metrics struct {
	reg *prometheus.Registry

	connections *prometheus.GaugeVec
	connsTotal  *prometheus.CounterVec
	connRejects *prometheus.CounterVec
	closes      *prometheus.CounterVec
	framesIn    *prometheus.CounterVec
	framesOut   prometheus.Counter
	bytesIn     prometheus.Counter
	bytesOut    prometheus.Counter
	badFrames   prometheus.Counter
	errors      *prometheus.CounterVec
	resumes     *prometheus.CounterVec
	// transportMoves counts sessions resumed on another transport
	// (WebSocket to QUIC fallback and back).
	transportMoves *prometheus.CounterVec
	// lossyLinks counts Pongs that reported more than 2% TCP
	// retransmissions on the connection since the previous Pong.
	lossyLinks    prometheus.Counter
	orderedMsgs   *prometheus.CounterVec
	appendSeconds prometheus.Histogram
	delivered     *prometheus.CounterVec
	catchupReads  prometheus.Counter
	convOverflows prometheus.Counter
	liveComments  prometheus.Counter
	liveBatches   prometheus.Counter
	liveDropped   prometheus.Counter
	// liveFanoutTimeouts counts room batches sent at RoomBatchMaxDelay
	// because the previous fan-out had not reached its quorum.
	liveFanoutTimeouts prometheus.Counter
	// liveStale counts room batches dropped for being older than
	// LiveMaxAge when their viewer's writer reached them (also in
	// liveDropped).
	liveStale       prometheus.Counter
	rooms           prometheus.Gauge
	viewers         prometheus.Gauge
	detached        prometheus.Gauge
	slowClosed      prometheus.Counter
	apiRequests     *prometheus.CounterVec
	orderingBatches prometheus.CounterFunc
	orderingFsyncs  prometheus.CounterFunc
	// fec holds the quic-fec connections' counters, exported below.
	fec transport.FECCounters
}

func newMetrics(orderingStats func() (batches, fsyncs float64)) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(collectors.NewGoCollector())
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{reg: reg}
	m.connections = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edgegate_connections", Help: "Open client connections by transport."}, []string{"transport"})
	m.connsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_connections_total", Help: "Accepted client connections by transport."}, []string{"transport"})
	m.connRejects = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_connection_rejects_total", Help: "Connections refused before or during the handshake, by reason."}, []string{"reason"})
	m.closes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_session_closes_total", Help: "Sessions closed, by reason."}, []string{"reason"})
	m.framesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_frames_in_total", Help: "Frames received from clients by type."}, []string{"type"})
	m.framesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_frames_out_total", Help: "Frames written to clients."})
	m.bytesIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_bytes_in_total", Help: "Frame bytes received from clients."})
	m.bytesOut = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_bytes_out_total", Help: "Frame bytes written to clients."})
	m.badFrames = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_bad_frames_total", Help: "Malformed frames received (connection closed with 1002)."})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_errors_total", Help: "Error frames sent to clients by code."}, []string{"code"})
	m.transportMoves = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_transport_moves_total", Help: "Sessions resumed on a different transport, by from and to."}, []string{"from", "to"})
	m.lossyLinks = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_lossy_link_reports_total", Help: "Pongs that reported more than 2% TCP retransmissions (server to client) since the previous one: WebSocket clients on lossy links."})
	m.resumes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_resumes_total", Help: "Resume attempts by result."}, []string{"result"})
	m.orderedMsgs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_ordered_messages_total", Help: "Ordered messages appended, by result (stored, duplicate, error)."}, []string{"result"})
	m.appendSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "edgegate_append_seconds", Help: "Time to durably order one message (until the ack).", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14)})
	m.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_delivered_messages_total", Help: "Messages written to clients by class."}, []string{"class"})
	m.catchupReads = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_catchup_reads_total", Help: "Store reads made to fill a session's gap (sync, overflow, resume)."})
	m.convOverflows = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_conv_queue_overflows_total", Help: "Ordered notifications dropped from a full per-conversation queue (recovered from the store)."})
	m.liveComments = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_live_comments_total", Help: "Room comments accepted."})
	m.liveBatches = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_live_batches_total", Help: "Room batches encoded (once per batch for all viewers)."})
	m.liveDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_live_dropped_total", Help: "Live comments dropped for slow viewers: oldest batches when a viewer queue is full, or batches older than the live max age."})
	m.liveStale = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_live_stale_dropped_total", Help: "Live comments dropped because their batch waited longer than the live max age for a slow viewer (also counted in edgegate_live_dropped_total)."})
	m.liveFanoutTimeouts = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_live_fanout_timeouts_total", Help: "Room batches sent at the max delay because the previous fan-out had not reached its quorum (slow viewers)."})
	m.rooms = prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgegate_rooms", Help: "Rooms with at least one viewer."})
	m.viewers = prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgegate_room_viewers", Help: "Room memberships across all rooms."})
	m.detached = prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgegate_detached_sessions", Help: "Disconnected sessions kept for resumption."})
	m.slowClosed = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_slow_consumers_closed_total", Help: "Sessions closed because they did not read their replies."})
	m.apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_api_requests_total", Help: "Backend HTTP API requests by route and status."}, []string{"route", "status"})
	for _, c := range []prometheus.Collector{m.connections, m.connsTotal, m.connRejects, m.closes, m.framesIn, m.framesOut, m.bytesIn, m.bytesOut, m.badFrames, m.errors, m.resumes, m.transportMoves, m.lossyLinks, m.orderedMsgs, m.appendSeconds, m.delivered, m.catchupReads, m.convOverflows, m.liveComments, m.liveBatches, m.liveDropped, m.liveFanoutTimeouts, m.liveStale, m.rooms, m.viewers, m.detached, m.slowClosed, m.apiRequests} {
		f(c)
	}
	for _, c := range []struct {
		name, help string
		v          *atomic.Uint64
	}{
		{"edgegate_fec_recovered_total", "quic-fec: data packets rebuilt from parity (both directions: what clients sent and what this node received).", &m.fec.Recovered},
		{"edgegate_fec_retransmitted_total", "quic-fec: frames this node sent again on the control stream because FEC could not rebuild them (NACK) or no ack came.", &m.fec.Retransmitted},
		{"edgegate_fec_unrecoverable_total", "quic-fec: packet ids this node NACKed after FEC gave up; over-counts (may name indexes of groups flushed early or wholly lost that were never sent): see edgegate_fec_nacked_data_total.", &m.fec.Unrecoverable},
		{"edgegate_fec_data_packets_total", "quic-fec: frames this node sent as FEC data packets (parity, bare datagrams and stream frames left out).", &m.fec.DataPackets},
		{"edgegate_fec_nacked_data_total", "quic-fec: FEC data packets this node sent that clients could not rebuild and NACKed, each once; divided by edgegate_fec_data_packets_total, the residual loss towards clients before retransmission.", &m.fec.NackedData},
		{"edgegate_fec_lost_packets_total", "quic-fec: packets (data and parity) that did not reach this node, recovered or not (direct datagrams: from packet numbers; inside QUIC: as the FEC decoder saw it).", &m.fec.Lost},
		{"edgegate_fec_datagram_bytes_total", "quic-fec: datagram bytes sent (FEC headers and parity included).", &m.fec.DatagramBytes},
		{"edgegate_fec_stream_frames_total", "quic-fec: frames sent on the control stream because they did not fit a datagram, or before a direct client heard from this node.", &m.fec.StreamFrames},
		{"edgegate_fec_duplicates_total", "quic-fec: frames that arrived twice (FEC and a retransmission) and were dropped.", &m.fec.Duplicates},
		{"edgegate_fec_stream_acks_total", "quic-fec: acknowledgements this node sent on the control stream (each a QUIC packet, and QUIC's ACK of it).", &m.fec.StreamAcks},
		{"edgegate_fec_datagram_acks_total", "quic-fec: acknowledgements this node sent inside datagrams going out anyway (ALPN edgegate-fec/3).", &m.fec.DatagramAcks},
		{"edgegate_fec_direct_dropped_total", "quic-fec: direct datagrams dropped on arrival (not authenticating, repeated, for no open connection, or queue full).", &m.fec.DirectDropped},
	} {
		v := c.v
		f(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help}, func() float64 { return float64(v.Load()) }))
	}
	if orderingStats != nil {
		m.orderingBatches = prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_ordering_batches_total", Help: "Group-commit batches written by the orderer."}, func() float64 { b, _ := orderingStats(); return b })
		m.orderingFsyncs = prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_ordering_fsyncs_total", Help: "Fsynced commits made by the orderer."}, func() float64 { _, s := orderingStats(); return s })
		f(m.orderingBatches)
		f(m.orderingFsyncs)
	}
	return m
}
