; task: sort5
; isa: minmax
; registers: 6
; length: 37
; core_length: 27
; critical_path: 13
; found_by: alphadev search (sorting network (constructed))
; seed: 0
; simulations: 702388
; seconds: 0.00
; verified: 541 tie-pattern rows + 30000 random int32 rows
; cycles_throughput: 11.00
; cycles_latency: 26.75
; optimal: not proved
; native: throughput 1.000x, latency 1.000x the lowered sorting network (AMD EPYC, gcc 12.2.0, -O2)
; objective: latency

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, m4
mov r5, r0
min r0, r1
max r1, r5
mov r5, r2
min r2, r3
max r3, r5
mov r5, r0
min r0, r2
max r2, r5
mov r5, r1
min r1, r3
max r3, r5
mov r5, r1
min r1, r2
max r2, r5
mov r5, r0
min r0, r4
max r4, r5
mov r5, r2
min r2, r4
max r4, r5
mov r5, r1
min r1, r2
max r2, r5
mov r5, r3
min r3, r4
max r4, r5
mov m0, r0
mov m1, r1
mov m2, r2
mov m3, r3
mov m4, r4
