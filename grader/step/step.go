// Package step defines what the host asks the guest agent to do (a Step) and
// what the agent saw while doing it (an Observation), and how both travel over
// the agent's serial port.
//
// The guest observes, the host judges: nothing here decides about points.
package step

// The operations a Step can ask for.
const (
	OpHello      = "hello"       // the agent answers once it is ready
	OpInsmod     = "insmod"      // load Path as a kernel module
	OpRmmod      = "rmmod"       // unload Module
	OpSections   = "sections"    // read the section addresses of Module
	OpStat       = "stat"        // stat Path
	OpWrite      = "write"       // open Path, write Data in one write(), close
	OpRead       = "read"        // open Path, read up to MaxReads times with BufSize, close
	OpShell      = "shell"       // run Command with /bin/sh -c
	OpTraceStart = "trace-start" // clear and enable the kmem tracepoints
	OpTraceStop  = "trace-stop"  // disable them and report the module's events
	OpPut        = "put"         // write Data (gunzipped if Gzip) to the file Path
	OpPoweroff   = "poweroff"    // power the guest off
)

// Step is one thing for the guest agent to do.
type Step struct {
	Seq    int    `json:"seq"`
	Op     string `json:"op"`
	Path   string `json:"path,omitempty"`
	Module string `json:"module,omitempty"`
	Data   []byte `json:"data,omitempty"`
	// Gzip says that a put step's Data is compressed: the serial port
	// carries a few tens of kilobytes a second.
	Gzip    bool   `json:"gzip,omitempty"`
	Command string `json:"command,omitempty"`

	// BufSize is the size of the buffer each read() gets.
	BufSize int `json:"buf_size,omitempty"`
	// MaxReads bounds how many read() calls a read step makes.
	MaxReads int `json:"max_reads,omitempty"`
	// MaxBytes bounds how many bytes a read or shell step keeps.
	MaxBytes int `json:"max_bytes,omitempty"`
	// TimeoutMillis bounds a shell step; the host bounds every step anyway.
	TimeoutMillis int `json:"timeout_ms,omitempty"`
	// Names lists the sections a sections step reads; all when empty.
	Names []string `json:"names,omitempty"`
}

// Observation is what the agent saw while it carried out one Step.
type Observation struct {
	Seq int    `json:"seq"`
	Op  string `json:"op"`

	// Errno names the error of the main system call, such as "EINVAL";
	// it is empty when the call succeeded.
	Errno string `json:"errno,omitempty"`
	// Error describes a failure of the agent itself (not of the module).
	Error string `json:"error,omitempty"`

	// Kmsg holds the kernel log records that appeared during the step.
	Kmsg []string `json:"kmsg,omitempty"`

	N        int               `json:"n,omitempty"`
	Reads    []Read            `json:"reads,omitempty"`
	Sections map[string]uint64 `json:"sections,omitempty"`
	Stat     *Stat             `json:"stat,omitempty"`
	Events   []MemEvent        `json:"events,omitempty"`
	Overrun  bool              `json:"overrun,omitempty"`
	Output   []byte            `json:"output,omitempty"`
	Exit     int               `json:"exit,omitempty"`
	Tainted  uint64            `json:"tainted,omitempty"`
	Micros   int64             `json:"micros,omitempty"`
}

// Read is the result of one read() call.
type Read struct {
	N     int    `json:"n"`
	Data  []byte `json:"data,omitempty"`
	Errno string `json:"errno,omitempty"`
}

// Stat is what stat() said about a path.
type Stat struct {
	Exists bool   `json:"exists"`
	Dir    bool   `json:"dir,omitempty"`
	Mode   uint32 `json:"mode,omitempty"` // permission bits only
}

// MemEvent is one kmalloc or kfree tracepoint hit that may concern the module.
// CallSite is zero when the kernel printed the call site as a symbol of its
// own, which means the call did not come from the module.
type MemEvent struct {
	Kind     string `json:"kind"` // "kmalloc" or "kfree"
	CallSite uint64 `json:"call_site,omitempty"`
	Caller   string `json:"caller,omitempty"` // the symbol the kernel printed, if any
	Ptr      string `json:"ptr"`              // hashed, but stable within a boot
	Bytes    int    `json:"bytes,omitempty"`
}

// Where the initramfs tells the agent how to reach the host: VirtioMarker
// holds the name of the virtio console port to use (without it, the agent
// uses the second serial port), and ChannelModules the port's drivers, when
// they are modules, loaded in the order of their names.
const (
	VirtioMarker   = "/etc/kmodgrade-channel"
	ChannelModules = "/lib/kmodgrade"
)
