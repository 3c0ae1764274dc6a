; task: sort5
; isa: minmax
; registers: 6
; length: 32
; core_length: 22
; critical_path: 11
; found_by: alphadev search (exact tail search)
; command: alphadev search --n 5 --isa minmax --method exact --seed 0 --time-limit 60
; seed: 0
; simulations: 927188
; seconds: 2.45
; verified: 541 tie-pattern rows + 30000 random int32 rows
; cycles_throughput: 5.25
; cycles_latency: 23.75
; lowering: sse
; optimal: not proved
; native: throughput 0.858x, latency 0.957x the lowered sorting network (AMD EPYC, gcc 12.2.0, -O2)
; objective: latency

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, m4
mov r5, r4
max r4, r2
min r5, r2
mov r2, r1
min r2, r4
max r4, r1
min r1, r5
max r5, r2
mov r2, r3
min r3, r0
max r2, r0
max r0, r4
max r0, r2
min r4, r2
min r2, r1
max r2, r3
min r2, r5
max r5, r3
min r3, r1
max r1, r4
min r1, r5
max r4, r5
mov m0, r3
mov m1, r2
mov m2, r1
mov m3, r4
mov m4, r0
